/** The data types kvmerge knows. `other` is any module type (ReJSON, …), copied only with DUMP/RESTORE. */
export const DATA_TYPES = ['string', 'hash', 'set', 'zset', 'list', 'stream'] as const;
export type NativeType = (typeof DATA_TYPES)[number];
export type DataType = NativeType | 'other';

export const STRATEGIES = ['override', 'merge', 'skip'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const MISMATCH_POLICIES = ['override', 'skip', 'fail'] as const;
export type MismatchPolicy = (typeof MISMATCH_POLICIES)[number];

/** Types whose values cannot be merged (SPEC §1.4); `merge` is rejected for them at load time. */
export const UNMERGEABLE_TYPES: readonly DataType[] = ['string', 'stream'];

/** What happens when a key already exists on the target, per type of the incoming value. */
export interface StrategyTable {
  string: Strategy;
  hash: Strategy;
  set: Strategy;
  zset: Strategy;
  list: Strategy;
  stream: Strategy;
  other: Strategy;
  typeMismatch: MismatchPolicy;
}

export const HASH_FIELD_WINNERS = ['source', 'target'] as const;
export const ZSET_SCORE_RULES = ['source', 'target', 'max', 'min', 'sum'] as const;
export const LIST_MERGES = ['append', 'prepend', 'union'] as const;
export const TTL_RULES = ['max', 'min', 'source', 'target'] as const;

export interface MergeOptions {
  hashField: (typeof HASH_FIELD_WINNERS)[number];
  zsetScore: (typeof ZSET_SCORE_RULES)[number];
  list: (typeof LIST_MERGES)[number];
  ttl: (typeof TTL_RULES)[number];
}

/** The outcome of one fold step for one (source, key). Every scanned key ends in exactly one. */
export type Action = 'create' | 'override' | 'merge' | 'skip' | 'expired' | 'fail';

export interface Decision {
  action: Action;
  /** The target already held the key (from before the run or from an earlier source). */
  conflict: boolean;
  /** The conflict is between two different types. */
  typeMismatch: boolean;
}

/**
 * A key at work (DESIGN.md seam 2): the unit that decide judges, write writes and account counts.
 * `name` is the key on the target (the source's prefix included), `type` the type this step writes
 * (one of several where a name holds several types, Pika 3.x), `source` the index of the source it
 * comes from, in declared order. The run's other shapes of a key extend it.
 */
export interface KeyAtWork {
  name: Buffer;
  type: DataType;
  source: number;
}
