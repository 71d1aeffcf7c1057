import type { DataType, NativeType } from '../types/strategy.js';
import { type Held, showHeld as showSized, type ValueVerify, type WindowedVerify } from './compare/held.js';
import { hashVerify } from './hash/verify.js';
import { listVerify } from './list/verify.js';
import { otherVerify } from './other/verify.js';
import { setVerify } from './set/verify.js';
import { streamVerify } from './stream/verify.js';
import { stringVerify } from './string/verify.js';
import { zsetVerify } from './zset/verify.js';

/**
 * Verify's knowledge of each type, by data type: how a value is compared, shown, read in windows
 * (src/types/<type>/verify.ts). src/verify/ asks this table and never switches on a type.
 */
const WINDOWED: Record<NativeType, WindowedVerify> = {
  string: stringVerify,
  hash: hashVerify,
  set: setVerify,
  zset: zsetVerify,
  list: listVerify,
  stream: streamVerify,
};

const VALUES: Record<DataType, ValueVerify> = { ...WINDOWED, other: otherVerify };

/** Whole values of any type, a module type included. */
export function verifyOf(type: DataType): ValueVerify {
  return VALUES[type];
}

/** Big values (compared in windows) of a native type. */
export function windowedOf(type: NativeType): WindowedVerify {
  return WINDOWED[type];
}

/** A big value in one line: its type and size ("hash of 12 fields"; the contents are not shown). */
export function showHeld(held: Held): string {
  return showSized(held, WINDOWED[held.type].elements);
}

export type {
  Held,
  HeldOutcome,
  Mismatch,
  Recipe,
  ValueVerify,
  WindowedVerify,
} from './compare/held.js';
export { STRING_CHUNK } from './compare/held.js';
export { showBytes } from './compare/show.js';
