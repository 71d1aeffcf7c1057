import { DATA_TYPES, type DataType, type MergeOptions, type StrategyTable } from '../types/strategy.js';
import { CODECS } from '../write/native/index.js';
import type { StreamValue } from '../write/native/stream.js';
import { parseScore } from '../write/native/zset.js';

/**
 * What verify expects of one target key, as pure functions (no I/O): the fold of SPEC §1.2 run over
 * the values the sources hold now, starting from the key's prior state when the journal knows it,
 * and from every possible prior state when it does not.
 *
 * "Holds whatever the prior state was" (SPEC §6.5) is made exact this way: the prior is one of
 * absent, or a value of one of the seven types with unknown contents. The fold is run from each of
 * these eight starts; an unknown value merged with source values is kept as "contains" (the merged
 * values, without the unknown base). The target passes when it matches any of the outcomes:
 *
 * - an exact outcome (the fold reached create or override, or started from a known prior): the same
 *   type, the same value, the TTL within the tolerance;
 * - a "contains" outcome (an unknown prior kept by skip, or merged): the same type and, per strategy,
 *   hash: every merged field (`hashField: source`: with the last source's value); set: every member;
 *   zset: every member (`zsetScore: source`: the last source's score; `max`: at least the largest
 *   source score; `min`: at most the smallest; `target`/`sum`: any score); list `append`: ends with the
 *   sources' elements in order, `prepend`: starts with them (the last source's first), `union`: holds
 *   every element; TTL: `merge.ttl` where it does not depend on the unknown prior, otherwise anything;
 * - absent: no key (never an outcome once a source holds the key), or any outcome whose lifetime may
 *   be over by now (mayHaveExpired): a key that expired after the run is no difference.
 *
 * So without the journal a key the run created or overrode is checked exactly only when no prior
 * could have kept it (strategy override, and typeMismatch override or a type the prior cannot have);
 * under skip, any value of the right type passes, because the target may have held it before the run.
 */

/** A value as read now: its type, its native value (codec form; undefined for a module type), its TTL. */
export interface Observed {
  type: DataType;
  value: unknown;
  /** Remaining milliseconds; null: no expiry. */
  ttl: number | null;
  /** A hash on a server that keeps field TTLs (Redis 7.4+): each field's expiry (field-ttls.ts). */
  fieldTtls?: Map<string, number>;
}

/** A lifetime the fold predicts: remaining ms, null for none, or unknown (depends on an unknown prior). */
export type Lifetime = number | null | 'unknown';

export type Outcome =
  | { kind: 'absent' }
  | { kind: 'exact'; type: DataType; value: unknown; ttl: Lifetime }
  /** A value of `type` with unknown contents, into which `merged` were merged in order. */
  | { kind: 'contains'; type: DataType; merged: unknown[]; ttl: Lifetime };

export interface Rules {
  table: StrategyTable;
  merge: MergeOptions;
  /** How far a TTL may be off (ms): clocks, read times and the servers' own rounding. */
  ttlToleranceMs: number;
  /** The target keeps a stream's TTL; where it cannot (Pika), a stream's lifetime is not compared. */
  targetStreamTtl?: boolean;
}

const ALL_TYPES: DataType[] = [...DATA_TYPES, 'other'];

/** The eight possible priors of a key the journal does not know. */
export function unknownPriors(): Outcome[] {
  return [
    { kind: 'absent' },
    ...ALL_TYPES.map((type): Outcome => ({ kind: 'contains', type, merged: [], ttl: 'unknown' })),
  ];
}

/** The prior a journal recorded, as the start of the fold. */
export function knownPrior(prior: Observed | null): Outcome {
  return prior === null ? { kind: 'absent' } : { kind: 'exact', ...prior };
}

/** One merge step on two values of a type (SPEC §1.4). */
export type Merger = (type: DataType, current: unknown, incoming: unknown, opts: MergeOptions) => unknown;

const codecMerge: Merger = (type, current, incoming, opts) =>
  CODECS[type as Exclude<DataType, 'other'>].mergeValues(current as never, incoming as never, opts);

/**
 * Every outcome of the fold of `holders` (the sources' values, in declared order) over each start.
 * `merger` builds a merged value; the default computes it (a big key's check passes one that only
 * records what was merged into what: verify/windowed.ts).
 */
export function foldOutcomes(
  starts: Outcome[],
  holders: readonly Observed[],
  rules: Rules,
  merger: Merger = codecMerge,
): Outcome[] {
  return starts.map((start) =>
    holders.reduce((state, incoming) => step(state, incoming, rules, merger), start),
  );
}

/** One step of SPEC §1.2 (the same table decide() implements, on values instead of types). */
function step(state: Outcome, incoming: Observed, { table, merge }: Rules, merger: Merger): Outcome {
  const replaced: Outcome = { kind: 'exact', ...incoming };
  if (state.kind === 'absent') return replaced;
  if (state.type !== incoming.type) return table.typeMismatch === 'override' ? replaced : state;
  const strategy = table[incoming.type];
  if (strategy === 'override') return replaced;
  // A module type cannot merge: the run skips it (README "What a merge does").
  if (strategy === 'skip' || incoming.type === 'other') return state;
  const ttl = mergeLifetime(merge.ttl, incoming.ttl, state.ttl);
  if (state.kind === 'contains') return { ...state, merged: [...state.merged, incoming.value], ttl };
  const value = merger(incoming.type, state.value, incoming.value, merge);
  return { kind: 'exact', type: state.type, value, ttl };
}

/** merge.ttl (SPEC §1.5) over lifetimes, one of which may be unknown. */
export function mergeLifetime(rule: MergeOptions['ttl'], source: Lifetime, target: Lifetime): Lifetime {
  switch (rule) {
    case 'source':
      return source;
    case 'target':
      return target;
    case 'max': // no expiry is the longest
      if (source === null || target === null) return null;
      return source === 'unknown' || target === 'unknown' ? 'unknown' : Math.max(source, target);
    case 'min':
      if (source === null) return target;
      if (target === null) return source;
      return source === 'unknown' || target === 'unknown' ? 'unknown' : Math.min(source, target);
  }
}

/** Whether the target's key (null: absent) is what `outcome` says. */
export function matches(found: Observed | null, outcome: Outcome, rules: Rules): boolean {
  if (!shapeMatches(found, outcome, rules)) return false;
  if (found === null || found.type === 'other' || outcome.kind === 'absent') return true;
  return outcome.kind === 'exact'
    ? sameValue(found.type, found.value, outcome.value)
    : containsMerged(found.type, found.value, outcome.merged, rules.merge);
}

/** Presence, type and TTL: all of `matches` but the value (a big key's value is compared in windows). */
export function shapeMatches(found: Observed | null, outcome: Outcome, rules: Rules): boolean {
  if (outcome.kind === 'absent') return found === null;
  if (found === null) return mayHaveExpired(outcome, rules);
  if (found.type !== outcome.type) return false;
  return !ttlKept(found.type, rules) || ttlMatches(found.ttl, outcome.ttl, rules.ttlToleranceMs);
}

const ttlKept = (type: DataType, rules: Rules): boolean =>
  type !== 'stream' || rules.targetStreamTtl !== false;

/**
 * Whether the key an outcome describes may be gone by now through its own expiry: the fold knows its
 * lifetime (a source's, or the journal's prior's) and it is over, within the tolerance. A lifetime an
 * unknown prior decides is not taken to be over: a deleted key would then pass wherever the run kept
 * or merged into a key the target held, and a missing key is the first thing verify must name.
 */
function mayHaveExpired(outcome: Exclude<Outcome, { kind: 'absent' }>, rules: Rules): boolean {
  return (
    ttlKept(outcome.type, rules) && typeof outcome.ttl === 'number' && outcome.ttl <= rules.ttlToleranceMs
  );
}

function ttlMatches(found: number | null, expected: Lifetime, tolerance: number): boolean {
  if (expected === 'unknown') return true;
  if (expected === null || found === null) return expected === found;
  return Math.abs(found - expected) <= tolerance;
}

const id = (b: Buffer): string => b.toString('latin1');

function pairs(flat: Buffer[]): [Buffer, Buffer][] {
  const out: [Buffer, Buffer][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/** hash: field → value; zset: member → score (flat arrays are score first). */
function hashMap(flat: Buffer[]): Map<string, string> {
  return new Map(pairs(flat).map(([f, v]) => [id(f), id(v)]));
}
function zsetMap(flat: Buffer[]): Map<string, number> {
  return new Map(pairs(flat).map(([s, m]) => [id(m), parseScore(s)]));
}

export function sameValue(type: DataType, a: unknown, b: unknown): boolean {
  switch (type) {
    case 'string':
      return (a as Buffer).equals(b as Buffer);
    case 'list': {
      const x = a as Buffer[];
      const y = b as Buffer[];
      return x.length === y.length && x.every((e, i) => e.equals(y[i]!));
    }
    case 'set': {
      const x = new Set((a as Buffer[]).map(id));
      const y = new Set((b as Buffer[]).map(id));
      return x.size === y.size && [...x].every((m) => y.has(m));
    }
    case 'hash':
    case 'zset': {
      const x = type === 'hash' ? hashMap(a as Buffer[]) : zsetMap(a as Buffer[]);
      const y: Map<string, unknown> = type === 'hash' ? hashMap(b as Buffer[]) : zsetMap(b as Buffer[]);
      return x.size === y.size && [...x].every(([k, v]) => y.has(k) && y.get(k) === v);
    }
    case 'stream': {
      const x = (a as StreamValue).entries;
      const y = (b as StreamValue).entries;
      return (
        x.length === y.length &&
        x.every(([xid, xf], i) => {
          const [yid, yf] = y[i]!;
          return xid.equals(yid) && xf.length === yf.length && xf.every((f, j) => f.equals(yf[j]!));
        })
      );
    }
    case 'other':
      return true;
  }
}

/** Whether `found` holds what merging `merged` into an unknown value of its type guarantees. */
function containsMerged(type: DataType, found: unknown, merged: unknown[], opts: MergeOptions): boolean {
  if (merged.length === 0) return true;
  switch (type) {
    case 'set': {
      const held = new Set((found as Buffer[]).map(id));
      return merged.every((v) => (v as Buffer[]).every((m) => held.has(id(m))));
    }
    case 'hash': {
      const held = hashMap(found as Buffer[]);
      const wanted = new Map<string, string>();
      for (const v of merged) for (const [f, val] of pairs(v as Buffer[])) wanted.set(id(f), id(val));
      return [...wanted].every(
        ([f, val]) => held.has(f) && (opts.hashField !== 'source' || held.get(f) === val),
      );
    }
    case 'zset': {
      const held = zsetMap(found as Buffer[]);
      const last = new Map<string, number>();
      const max = new Map<string, number>();
      const min = new Map<string, number>();
      for (const v of merged) {
        for (const [m, s] of zsetMap(v as Buffer[])) {
          last.set(m, s);
          max.set(m, Math.max(s, max.get(m) ?? s));
          min.set(m, Math.min(s, min.get(m) ?? s));
        }
      }
      return [...last.keys()].every((m) => {
        const score = held.get(m);
        if (score === undefined) return false;
        if (opts.zsetScore === 'source') return score === last.get(m);
        if (opts.zsetScore === 'max') return score >= max.get(m)!;
        if (opts.zsetScore === 'min') return score <= min.get(m)!;
        return true;
      });
    }
    case 'list': {
      const held = found as Buffer[];
      if (opts.list === 'union') {
        const ids = new Set(held.map(id));
        return merged.every((v) => (v as Buffer[]).every((e) => ids.has(id(e))));
      }
      // append: U ++ v1 ++ … ++ vk; prepend: vk ++ … ++ v1 ++ U.
      const run =
        opts.list === 'append' ? (merged as Buffer[][]).flat() : [...(merged as Buffer[][])].reverse().flat();
      if (run.length > held.length) return false;
      const at = opts.list === 'append' ? held.length - run.length : 0;
      return run.every((e, i) => e.equals(held[at + i]!));
    }
    default:
      // Strings and streams never merge (SPEC §1.4): nothing is ever merged into them.
      return true;
  }
}

/** The outcome to show as "expected" when none matched: one of the found type if any, else the first. */
export function shownOutcome(outcomes: Outcome[], found: Observed | null): Outcome {
  return outcomes.find((o) => o.kind !== 'absent' && o.type === found?.type) ?? outcomes[0]!;
}
