import type { DataType, Decision, StrategyTable } from '../types/strategy.js';
import type { CountedType, Counts } from './counters.js';

/** What happened to one (source, key): the unit that the tally counts. */
export interface KeyOutcome {
  sourceIndex: number;
  /** The key as written to the target (prefix included). */
  key: Buffer;
  /** The source value's type; `none` when the key vanished before its type was read. */
  type: CountedType;
  /** The target's type at this step (predicted in a dry run), null when it held nothing. */
  targetType: DataType | null;
  decision: Decision;
  /** This source is the second one to hold the key (so the key is counted once as an overlap). */
  sourceOverlap: boolean;
}

export interface ConflictSample {
  key?: string;
  keyBase64?: string;
  source: string;
  sourceType: DataType;
  targetType: DataType;
  action: 'created' | 'overridden' | 'merged' | 'skipped' | 'expired' | 'failed';
}

/** A key that took the native path instead of DUMP/RESTORE (SPEC §2.1), as listed in the report. */
export interface FallbackSample {
  key?: string;
  keyBase64?: string;
  source: string;
}

/** Keys written natively for one reason: how many, and the first `report.sample` of them by name. */
export interface Fallback {
  reason: string;
  keys: number;
  sample: FallbackSample[];
}

export type RunOutcome = 'done' | 'failed' | 'interrupted';

/** The JSON report of SPEC §5.3 (plus outcome/error, which say how the run ended). */
export interface JsonReport {
  tool: 'kvmerge';
  version: string;
  dryRun: boolean;
  startedAt: string;
  durationMs: number;
  target: { url: string };
  sources: { name: string; url: string; scanned: number }[];
  strategies: StrategyTable;
  totals: Counts;
  byType: Partial<Record<CountedType, Counts>>;
  conflicts: { total: number; sample: ConflictSample[] };
  fallbacks: Fallback[];
  /** Keys that could not be written (SPEC §6.4), with their reasons: the first `report.sample`. */
  failedKeys?: FailedKeySample[];
  outcome: RunOutcome;
  error?: string;
  /** The run's journal (SPEC §6.2), for `kvmerge rollback --backup` and `--resume`; absent without one. */
  journal?: string;
  /** A live merge (`--follow`, SPEC §9): what happened after the snapshot. */
  follow?: FollowSummary;
}

/** What a follow did after the snapshot (SPEC §9.4). */
export interface FollowSummary {
  /** Keys folded again: compared with the fold of the sources' values then. */
  refolded: number;
  /** Of them, keys whose value the target was given, and keys deleted. */
  written: number;
  deleted: number;
  /** Keys that could not be folded again (each named in the log). */
  failed: number;
  /** Reconciliation passes run (SPEC §9.3). */
  passCount: number;
  /** The last 100 of them: over which source, why, how many keys compared. */
  passes: { source: string; reason: string; keys: number }[];
  /** Whether nothing was pending when it stopped. */
  caughtUp: boolean;
  /** From a change to its fold written: percentiles over a sample of the keys applied. */
  lagMs: { p50: number; p99: number; max: number };
}

export interface FailedKeySample {
  key?: string;
  keyBase64?: string;
  source: string;
  type: string;
  reason: string;
}

/**
 * Receives progress as the run goes. The CLI renders it (bars on a TTY, plain lines otherwise);
 * the library calls it and knows nothing of terminals.
 */
/** An RDB file source's bytes read of its size (SPEC §10: a file's progress is by bytes). */
export interface ByteProgress {
  read: number;
  total: number;
}

export interface ProgressSink {
  /** Before the first source: every source's estimate (DBSIZE, 0 when unknown), for the run's total. */
  planned?(sources: readonly { name: string; estimatedKeys: number }[]): void;
  /** A source starts; `estimatedKeys` from DBSIZE (0 when unknown). */
  sourceStarted(index: number, name: string, estimatedKeys: number): void;
  /**
   * Keys of source `index` finished so far, a refined estimate of its total, the running totals, and
   * for an RDB file its bytes read.
   */
  update(index: number, keysDone: number, estimatedKeys: number, totals: Counts, bytes?: ByteProgress): void;
  sourceFinished(index: number): void;
  stop(): void;
}
