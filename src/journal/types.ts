/**
 * What the backup journal (SPEC §6.2) says of one target key: its state before the run changed it.
 * Shared by the journal's writer and reader, rollback, resume and verify.
 */
export type PriorState =
  /**
   * The key did not exist: rollback deletes it. Where a name holds several types (a Pika 3.x target,
   * JournaledKey.type set), the step's type did not exist, and `expireAt` is the name's expiry then
   * (absolute ms, null: none), which the run's expiry of this type also set on the name's other types.
   */
  | { kind: 'absent'; expireAt?: number | null }
  /** A DUMP payload and the key's absolute expiry in ms since the epoch (null: no TTL). */
  | { kind: 'dump'; payload: Buffer; expireAt: number | null }
  /**
   * A native image, where the target has no DUMP (Pika): the value as its codec decodes it
   * (string: Buffer; hash: [field, value][]; set: Buffer[]; zset: [member, score][]; list: Buffer[];
   * stream: entries) and the absolute expiry in ms (null: no TTL).
   */
  | { kind: 'native'; type: string; value: unknown; expireAt: number | null }
  /**
   * A big key (over write.bigKeyElements elements or write.bigKeyBytes bytes) as a native image in
   * windows: `at` holds the journal offsets of its `window` records, in order, each one window of the
   * type's flat layout (hash: field, value, …; zset: score, member, …; set and list: elements; string:
   * one chunk). Never held whole in memory: written and put back a window at a time.
   */
  | { kind: 'windows'; type: WindowedType; expireAt: number | null; at: number[] };

/** The types whose big keys are journaled in windows (a stream stays a DUMP payload). */
export type WindowedType = 'string' | 'hash' | 'set' | 'zset' | 'list';

/** A key the run touched and its state before the first change the run made to it. */
export interface JournaledKey {
  key: Buffer;
  prior: PriorState;
  /**
   * On a target where one name holds several types (Pika 3.x): the type this prior is of, put back
   * without touching the name's other types. Undefined elsewhere: the prior is the whole key's.
   */
  type?: string;
}

/** The first record: which run, plan and target the journal belongs to. Never holds a password. */
export interface JournalHeader {
  kind: 'header';
  format: number;
  tool: 'kvmerge';
  version: string;
  /** The target URL, password redacted. */
  target: string;
  /** sha256 of what decides the fold's result (sources, prefixes, matches, strategies, merge options). */
  planDigest: string;
  runId: string;
  startedAt: string;
  /**
   * The target holds several types under one name (Pika 3.x): each `before` record's prior is of its
   * step's type alone, and is put back without touching the name's other types. Absent elsewhere.
   */
  typedPriors?: boolean;
  /**
   * What the run was asked to do, for `kvmerge status` (journals of kvmerge 0.1.0 lack it, and are read
   * without). Passwords masked.
   */
  plan?: JournalPlan;
  /**
   * The command line that started the run (its arguments, passwords masked), from which `status` gives
   * the resume command. Absent for a run started through the library, and in older journals.
   */
  command?: string[];
}

/** The fold a journal's run applied: its sources in order, its strategies and merge options. */
export interface JournalPlan {
  /** Each source's name and URL (password masked), and its match and prefix where it has them. */
  sources: { name: string; url: string; match?: string; prefix?: string }[];
  /** Strategy per type, and `typeMismatch`. */
  strategies: Record<string, string>;
  /** hashField, zsetScore, list, ttl. */
  merge: Record<string, string>;
}

/** One record of the journal file (format.ts frames it, compact.ts gives the hot ones a binary body). */
export type JournalRecord =
  | JournalHeader
  /** Written and made durable before step (source, key, type) sends anything: the key's state then. */
  | { kind: 'before'; source: number; key: Buffer; type: string; prior: PriorState }
  /**
   * One window of a big key's prior state (PriorState 'windows' names it by its offset). A hash's
   * window on a server with field TTLs (Redis 7.4+) has each field's absolute expiry in ms, -1 for
   * none, where any field of it has one.
   */
  | { kind: 'window'; key: Buffer; items: Buffer[]; fieldExpiries?: number[] }
  /** A temporary key is about to be created (a big key built aside): resume and rollback delete it. */
  | { kind: 'temp'; key: Buffer }
  /** The steps' replies came and say they were applied. Not synced: a lost one only means a redo. */
  | { kind: 'applied'; source: number; steps: [Buffer, string][] }
  /** Every step of the source was settled. */
  | { kind: 'sourceDone'; source: number }
  /** Resume began: the interrupted run's unsettled steps were put back (informational). */
  | { kind: 'resumed'; at: string }
  /**
   * A resume applied these keys again from their first prior, through every finished source (keys
   * whose step failed, under --on-error skip): they are no longer failed, unless a step of it failed
   * again (a step of a finished source left unsettled).
   */
  | { kind: 'retried'; keys: Buffer[] }
  /**
   * A rollback began (durable before its first write): the run can no longer be resumed, since the keys
   * its journal marks applied may have been put back.
   */
  | { kind: 'rollback'; at: string }
  /**
   * The run completed: every source's every step applied (SPEC §6.3). Its last record, so that the
   * state directory's lookup (state-dir.ts) reads it from the file's tail. Readers of format 2 that
   * predate it skip it like any record they do not use.
   */
  | { kind: 'done'; at: string };
