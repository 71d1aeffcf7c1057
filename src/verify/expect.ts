import { CODECS } from '../types/index.js';
import { DATA_TYPES, type DataType, type MergeOptions, type StrategyTable } from '../types/strategy.js';
import { verifyOf } from '../types/verify.js';
import { type Deadline, mergedDeadline } from '../write/ttl.js';

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

/**
 * merge.ttl (SPEC §1.5) over lifetimes, one of which may be unknown: the merge's own rule
 * (write/ttl.ts mergedDeadline). An unknown lifetime may be any, none included; the rule is
 * monotonic in each side (no expiry counts as the longest), so its answer does not depend on the
 * unknown side exactly when it is the same with that side at either extreme (-Infinity, none).
 */
export function mergeLifetime(rule: MergeOptions['ttl'], source: Lifetime, target: Lifetime): Lifetime {
  const at = (extreme: number | null): Deadline =>
    mergedDeadline(rule, source === 'unknown' ? extreme : source, target === 'unknown' ? extreme : target);
  const shortest = at(Number.NEGATIVE_INFINITY);
  return shortest === at(null) ? shortest : 'unknown';
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
  verifyOf(type).keepsTtl({ streamTtl: rules.targetStreamTtl });

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

/** Whether two values of `type` are the same value. */
export function sameValue(type: DataType, a: unknown, b: unknown): boolean {
  return verifyOf(type).same(a, b);
}

/** Whether `found` holds what merging `merged` into an unknown value of its type guarantees. */
function containsMerged(type: DataType, found: unknown, merged: unknown[], opts: MergeOptions): boolean {
  return merged.length === 0 || verifyOf(type).contains(found, merged, opts);
}

/** The outcome to show as "expected" when none matched: one of the found type if any, else the first. */
export function shownOutcome(outcomes: Outcome[], found: Observed | null): Outcome {
  return outcomes.find((o) => o.kind !== 'absent' && o.type === found?.type) ?? outcomes[0]!;
}
