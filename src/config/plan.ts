import type { MergeOptions, StrategyTable } from '../types/strategy.js';
import type { FileSource } from './url.js';

export const WRITE_MODES = ['auto', 'dump', 'native'] as const;
export type WriteMode = (typeof WRITE_MODES)[number];

/** TLS files and verification for a rediss:// server (paths as given; read when connecting). */
export interface TlsPlan {
  ca?: string;
  cert?: string;
  key?: string;
  insecure: boolean;
}

export const ON_ERROR = ['stop', 'skip'] as const;
export type OnError = (typeof ON_ERROR)[number];

/** Timeouts and the reconnection budget of every connection (SPEC §4, §6.4). */
export interface NetworkPlan {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  retryBudgetMs: number;
}

export interface SourcePlan {
  /** The URL as given, with the password in it: only for connecting, never for output. */
  url: string;
  /** Label for reports and progress (default: host:port/db). */
  name: string;
  /** SCAN MATCH glob; undefined means every key. */
  match?: string;
  /** Prepended to every key written to the target (raw bytes, UTF-8 of the configured string). */
  prefix: Buffer;
  tls?: TlsPlan;
  /** An RDB file as the source (SPEC §10), instead of a server: `url` is the text as given. */
  file?: FileSource;
}

export interface WritePlan {
  mode: WriteMode;
  concurrency: number;
  batchSize: number;
  scanCount: number;
  bigKeyElements: number;
  bigKeyBytes: number;
  /**
   * A big key that is created or overridden on the dump path is streamed as one DUMP payload into one
   * RESTORE (never held by kvmerge) when its payload is at most this many bytes and within the target's
   * proto-max-bulk-len; bigger ones, and every big key where this is 0, go in windows.
   */
  payloadMaxBytes: number;
}

/** A fully resolved, validated run: config file + flags + defaults (SPEC §3.3). */
export interface MergePlan {
  sources: SourcePlan[];
  target: { url: string; tls?: TlsPlan };
  strategies: StrategyTable;
  merge: MergeOptions;
  write: WritePlan;
  report: { file?: string; sample: number };
  dryRun: boolean;
  failOnConflict: boolean;
  /** SPEC §6.4: a key that cannot be written stops the run, or is counted failed and the run goes on. */
  safety: {
    onError: OnError;
    failedKeys?: string;
    /** SPEC §6.2: the journal of the target's prior states; §6.3 resume continues the run it records. */
    backup?: string;
    resume: boolean;
    /** SPEC §6.2: no journal at all (`--no-backup`); the run says at its start what a crash then costs. */
    noBackup: boolean;
    /** SPEC §6.3: apply the plan although its last run was interrupted, or completed and repeats double. */
    again: boolean;
    /**
     * kvmerge's state directory (state-dir.ts defaultStateDir), where a run journals when no `backup`
     * is given and where the rerun guard of §6.3 looks for this plan's earlier runs. The CLI sets it;
     * a library caller opts in (README "Library"). Undefined: journal only into `backup`, no guard.
     */
    stateDir?: string;
  };
  network: NetworkPlan;
  /** SPEC §9: after the snapshot, follow the sources' changes; undefined: no follow. */
  follow?: FollowPlan;
  /** SPEC §9.5: caps on what the run asks of the sources (undefined: none). */
  throttle: { rate?: number; maxSourceLatencyMs?: number };
}

export interface FollowPlan {
  /** Exit 0 the first time the snapshot is done and nothing is pending (a cut-over script). */
  untilCaughtUp: boolean;
  /** Between two passes over a source without keyspace notifications (Pika). */
  intervalMs: number;
  /** The most changed keys held pending; past it, a reconciliation pass. */
  maxPending: number;
  /** Set notify-keyspace-events on the sources where it lacks what a follow needs. */
  setNotifyConfig: boolean;
}
