import { ConnectionError } from '../common/errors.js';
import type { MergePlan } from '../config/plan.js';
import type { WindowLoader } from '../journal/reader.js';
import type { PriorState } from '../journal/types.js';
import { askTypes } from '../probe/probe.js';
import { sourceKeyOf } from '../scan/source-key.js';
import { classifyReply } from '../servers/errors/classify.js';
import type { Command } from '../servers/resp.js';
import { CODECS, TYPES } from '../types/index.js';
import type { DataType, NativeType } from '../types/strategy.js';
import { verifyOf } from '../types/verify.js';
import { decodePayload, UnsupportedPayloadError } from '../write/rdb-payload.js';
import type { Observed } from './expect.js';
import { fieldTtlsOf, keepsFieldTtls } from './field-ttls.js';
import type { Side } from './sides.js';
import { JournalValue, RemoteValue, refused } from './windowed.js';

/** What verify reads of a batch of keys: their types, their values (a big one as a RemoteValue), their priors. */

/** Where each target key lives on source `j` (undefined: its prefix or match rules the key out). */
export function admitted(plan: MergePlan, j: number, keys: Buffer[]): (Buffer | undefined)[] {
  return keys.map((k) => sourceKeyOf(plan.sources[j]!, k));
}

/**
 * The types each key holds (undefined where not asked): one where a name holds one type, every type
 * of the name in TYPE_ORDER where it holds several (Pika 3.x: PTYPE and XLEN), a Pika 4 stale TYPE
 * cleared (EXISTS, XLEN), as the merge's probe asks them (probe.ts), never by script: verify only
 * reads with read commands.
 */
export async function typesOf(
  side: Side,
  keys: (Buffer | undefined)[],
): Promise<(readonly DataType[] | undefined)[]> {
  const asked = keys.flatMap((k, i) => (k === undefined ? [] : [i]));
  let types: (readonly DataType[])[];
  try {
    types = await askTypes(
      { pipe: side.pipe, caps: { ...side.caps, batchScripts: false } },
      asked.map((i) => keys[i]!),
    );
  } catch (err) {
    if (err instanceof Error && !(err instanceof ConnectionError) && err.name !== 'ServerLostError') {
      throw refused(side, err);
    }
    throw err;
  }
  const out: (readonly DataType[] | undefined)[] = new Array(keys.length);
  asked.forEach((i, n) => {
    out[i] = types[n];
  });
  return out;
}

/** write.bigKeyElements and write.bigKeyBytes (SPEC §2.3): over either, a value is compared in windows. */
export type BigKeyLimits = Pick<MergePlan['write'], 'bigKeyElements' | 'bigKeyBytes'>;

/**
 * The values of the keys that have a type (null: absent or gone), with their TTLs. One round trip
 * asks PTTL, the size (the type's count, and MEMORY USAGE where the server answers it) of each key;
 * a second reads the values that are not big whole (the type's own read; a module type: PTTL alone,
 * it is compared by type). A big value is not read here: it comes back as a RemoteValue, read in
 * windows when it is compared (windowed.ts). A key deleted since TYPE (PTTL -2, a stale TYPE on
 * Pika 4, an error reply) or holding another type by now reads as gone.
 */
export async function valuesOf(
  side: Side,
  keys: (Buffer | undefined)[],
  types: (readonly DataType[] | undefined)[],
  limits: BigKeyLimits,
): Promise<Observed[][]> {
  const asks: Command[] = [];
  const sized: { i: number; type: DataType; at: number; memory: boolean }[] = [];
  keys.forEach((key, i) => {
    if (key === undefined) return;
    for (const type of types[i] ?? []) {
      const memory = type !== 'other' && side.caps.memoryUsage;
      sized.push({ i, type, at: asks.length, memory });
      asks.push(['PTTL', key]);
      if (type !== 'other') asks.push(CODECS[type].count(key));
      if (memory) asks.push(['MEMORY', 'USAGE', key, 'SAMPLES', 5]);
    }
  });
  const sizes = asks.length > 0 ? await side.pipe.send(asks) : [];
  const out: Observed[][] = keys.map(() => []);
  const reads: Command[] = [];
  const plan: { i: number; type: DataType; ttl: number | null; at: number; count: number; dump: boolean }[] =
    [];
  for (const { i, type, at, memory } of sized) {
    const pttl = sizes[at];
    const count = type === 'other' ? undefined : sizes[at + 1];
    // MEMORY USAGE may be denied to a read-only user: the count decides alone then.
    const bytes = memory ? sizes[at + 2] : undefined;
    // A refusal (NOPERM, a lost server) is an error of the check; WRONGTYPE means the key changed type.
    const refusal = [pttl, count].find((r) => r instanceof Error && classifyReply(r) !== 'wrongtype');
    if (refusal) throw refused(side, refusal as Error);
    // Where a stream keeps no TTL, PTTL may say -2 of a live one (Pika 3.x): its entries decide.
    const noTtl = !verifyOf(type).keepsTtl(side.caps);
    if ((pttl === -2 && !noTtl) || count instanceof Error) continue;
    // Where streams have no TTL (Pika), PTTL says nothing about one.
    const ttl = typeof pttl !== 'number' || pttl < 0 || noTtl ? null : pttl;
    if (type === 'other') {
      out[i]!.push({ type, value: undefined, ttl });
      continue;
    }
    const n = typeof count === 'number' ? count : 0;
    if (TYPES[type].isBig(n, limits, typeof bytes === 'number' ? bytes : undefined)) {
      out[i]!.push({ type, value: new RemoteValue(side, keys[i]!, type, n), ttl });
      continue;
    }
    const commands = CODECS[type].read(keys[i]!, side.caps);
    // A hash's field TTLs (Redis 7.4+) are in its DUMP payload only (field-ttls.ts).
    const dump = verifyOf(type).fieldTtls === true && keepsFieldTtls(side.caps);
    plan.push({ i, type, ttl, at: reads.length, count: commands.length, dump });
    reads.push(...commands);
    if (dump) reads.push(['DUMP', keys[i]!]);
  }
  const replies = reads.length > 0 ? await side.pipe.send(reads) : [];
  for (const { i, type, ttl, at, count, dump } of plan) {
    const valueReplies = replies.slice(at, at + count);
    const refusal = valueReplies.find((r) => r instanceof Error && classifyReply(r) !== 'wrongtype');
    if (refusal) throw refused(side, refusal as Error);
    if (valueReplies.some((r) => r instanceof Error)) continue;
    const value = CODECS[type as NativeType].decode(valueReplies, side.caps);
    // A DUMP the user may not make leaves the field TTLs unknown (not compared), as where none are kept.
    const fieldTtls = dump ? fieldTtlsOf(replies[at + count]) : undefined;
    if (value !== null) out[i]!.push({ type, value, ttl, ...(fieldTtls ? { fieldTtls } : {}) });
  }
  return out;
}

/** A journaled prior as a value, or the reason it cannot be one (the key is then checked without it). */
export async function priorObserved(
  prior: PriorState,
  windows?: WindowLoader,
): Promise<Observed | null | string> {
  if (prior.kind === 'absent') return null;
  const ttl = prior.expireAt === null ? null : prior.expireAt - Date.now();
  if (prior.kind === 'native') {
    const type = prior.type as DataType;
    return { type, value: fromImage(type, prior.value), ttl };
  }
  if (prior.kind === 'windows') {
    // A big key's prior, journaled in windows: walked in the journal when it is compared.
    if (!windows)
      return 'prior journaled in windows (a big key), and no reader of its windows: checked as if unknown';
    return { type: prior.type, value: await JournalValue.open(prior.type, prior.at, windows), ttl };
  }
  try {
    const { type, value, fieldExpiries } = decodePayload(prior.payload);
    const fieldTtls = fieldExpiries && new Map(fieldExpiries.map(([f, at]) => [f.toString('latin1'), at]));
    return { type, value, ttl, ...(verifyOf(type).fieldTtls ? { fieldTtls: fieldTtls ?? new Map() } : {}) };
  } catch (err) {
    if (err instanceof UnsupportedPayloadError) return `prior payload not decoded: ${err.message}`;
    throw err;
  }
}

/** A journal's native image (journal/types.ts) in the codecs' form (hash and zset: flat arrays). */
function fromImage(type: DataType, value: unknown): unknown {
  return verifyOf(type).fromImage?.(value) ?? value;
}
