import type { Caps } from '../servers/caps.js';
import type { NativeCodec } from './codec.js';
import { hashCodec } from './hash/codec.js';
import { listCodec } from './list/codec.js';
import { listLostMerge } from './list/lost-merge.js';
import type { LostMergeCheck } from './lost-merge.js';
import { setCodec } from './set/codec.js';
import type { DataType, NativeType } from './strategy.js';
import { keepsStreamTtl, streamCodec } from './stream/codec.js';
import { stringCodec } from './string/codec.js';
import { zsetCodec } from './zset/codec.js';
import { zsetLostMerge } from './zset/lost-merge.js';

export const CODECS: Record<NativeType, NativeCodec<unknown>> = {
  string: stringCodec as NativeCodec<unknown>,
  hash: hashCodec as NativeCodec<unknown>,
  set: setCodec as NativeCodec<unknown>,
  zset: zsetCodec as NativeCodec<unknown>,
  list: listCodec as NativeCodec<unknown>,
  stream: streamCodec as NativeCodec<unknown>,
};

/** write.bigKeyElements and write.bigKeyBytes (SPEC §2.3): over either, a value is big. */
export interface BigKeyLimits {
  bigKeyElements: number;
  bigKeyBytes: number;
}

/** What the run, the journal and verify ask of a type beside its commands (its codec). */
export interface TypeOps {
  /**
   * Whether a value is big (SPEC §2.3), from its count (the codec's count(): a string's bytes, other
   * types' elements) and, where known, its MEMORY USAGE. A string's count is its exact size, which
   * MEMORY USAGE only approximates, so its count alone decides.
   */
  isBig(count: number, limits: BigKeyLimits, memory?: number): boolean;
  /** Whether a server keeps this type's TTL: where not, PTTL says nothing and the value lives until deleted. */
  keepsTtl(caps: Pick<Caps, 'streamTtl'>): boolean;
  /** How a merge hidden by a drop is told applied; absent where the merge is idempotent (sent again). */
  lostMerge?: LostMergeCheck;
}

const bytesOver = (count: number, limits: BigKeyLimits): boolean => count > limits.bigKeyBytes;
const elementsOver = (count: number, limits: BigKeyLimits, memory?: number): boolean =>
  count > limits.bigKeyElements || (memory !== undefined && memory > limits.bigKeyBytes);
const always = (): boolean => true;

export const TYPES: Record<NativeType, TypeOps> = {
  string: { isBig: bytesOver, keepsTtl: always },
  hash: { isBig: elementsOver, keepsTtl: always },
  set: { isBig: elementsOver, keepsTtl: always },
  zset: { isBig: elementsOver, keepsTtl: always, lostMerge: zsetLostMerge },
  list: { isBig: elementsOver, keepsTtl: always, lostMerge: listLostMerge },
  stream: { isBig: elementsOver, keepsTtl: keepsStreamTtl },
};

/** A module type keeps its TTL as any key does; a native type as TYPES says. */
export function keepsTtl(type: DataType, caps: Pick<Caps, 'streamTtl'>): boolean {
  return type === 'other' || TYPES[type].keepsTtl(caps);
}
