import type { Counts } from './counters.js';
import type { RunEvent } from './events.js';
import { OverallProgress, type OverallSnapshot } from './overall.js';
import type { ByteProgress, ProgressSink } from './types.js';

/** The events of `--progress-json`, in the order a run gives them (README "Watching a run"). */
export type ProgressEventName =
  | 'start'
  | 'progress'
  | 'source-done'
  | 'reconnect'
  | 'failover'
  | 'topology'
  | 'fallback'
  | 'reconcile'
  | 'log'
  | 'error'
  | 'done';

/** One NDJSON line: these fields always (null when they do not apply), plus the event's own. */
export interface ProgressEvent {
  ts: string;
  event: ProgressEventName;
  source: string | null;
  done: number;
  total: number | null;
  keysPerSec: number;
  etaSec: number | null;
  /** During a follow: seconds from the oldest pending change to now. */
  lag: number | null;
  /** Where the run has RDB file sources: their bytes read, and their sizes. */
  bytesRead?: number;
  bytesTotal?: number;
  [field: string]: unknown;
}

export interface JsonProgressOptions {
  /** Receives each line (with its newline): stderr, through the CLI's password filter. */
  write: (line: string) => void;
  /** Masks passwords in every string of an event (the CLI's filter), before it is serialised. */
  redact?: <T>(value: T) => T;
  /** The least time between two `progress` events (default 1000 ms); the others are never held back. */
  intervalMs?: number;
  now?: () => number;
}

/** What a follow says after each status period (follow/follow.ts calls it FollowStatus). */
export interface FollowProgress {
  pending: number;
  /** Age of the oldest pending change, ms. */
  lagMs: number;
  /** Keys folded again (compared) in all, and keys/s over the last status period. */
  refolded: number;
  keysPerSecond: number;
  /** Nothing pending, nothing in flight, no pass due. */
  caughtUp: boolean;
  /** The pass under way, if any: its source and why. */
  pass?: string;
}

/**
 * `--progress-json` (SPEC §11): one JSON object a line for orchestration. The run's ProgressSink
 * calls give start, progress (throttled), source-done; the event channel gives reconnect, failover,
 * topology and fallback as they happen (never throttled: a script counts them); a follow's status
 * gives progress with its lag and reconcile; the CLI ends it with done (the report's totals), and
 * routes its own stderr lines here as log and error, so that every line of stderr is JSON.
 * stop() (the snapshot's end) does not end it: a follow goes on after it.
 */
export class JsonProgress implements ProgressSink {
  private readonly overall = new OverallProgress();
  private readonly intervalMs: number;
  private readonly now: () => number;
  private current: string | null = null;
  private started = false;
  private lastProgress = Number.NEGATIVE_INFINITY;
  private lag: number | null = null;
  private ended = false;

  constructor(private readonly opts: JsonProgressOptions) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** The first event, once the plan is known: the command and its sources, before any connection. */
  begin(fields: Record<string, unknown>): void {
    if (this.started) return;
    this.started = true;
    this.emit('start', fields);
  }

  /** Every source's estimate, before the first starts: a progress event with the run's total. */
  planned(sources: readonly { name: string; estimatedKeys: number }[]): void {
    this.overall.planned(sources);
    this.lastProgress = this.now();
    this.emit('progress', { estimates: sources.map((s) => ({ source: s.name, keys: s.estimatedKeys })) });
  }

  sourceStarted(index: number, name: string, estimatedKeys: number): void {
    this.overall.started(index, name, estimatedKeys, this.now());
    this.current = name;
  }

  update(index: number, keysDone: number, estimatedKeys: number, totals: Counts, bytes?: ByteProgress): void {
    this.overall.update(index, keysDone, estimatedKeys, bytes);
    const at = this.now();
    if (at - this.lastProgress < this.intervalMs) return;
    this.lastProgress = at;
    const s = this.overall.sources[index];
    this.emit('progress', {
      source: s?.name ?? null,
      sourceDone: keysDone,
      sourceTotal: estimatedKeys > 0 ? estimatedKeys : null,
      totals,
    });
  }

  sourceFinished(index: number): void {
    const s = this.overall.finished(index, this.now());
    if (s) this.emit('source-done', { source: s.name, sourceDone: s.keysDone });
  }

  stop(): void {}

  /** A verify's progress: keys checked so far (its total is not known up front). */
  checked(checked: number, differences: number): void {
    // One walk over all the sources, of unknown size: counted as one.
    if (this.overall.sources.length === 0) this.overall.started(0, 'verify', 0, this.now());
    this.overall.update(0, checked, 0);
    const at = this.now();
    if (at - this.lastProgress < this.intervalMs) return;
    this.lastProgress = at;
    this.emit('progress', { differences });
  }

  /** A follow's status: its lag and pending keys as progress, or the reconciliation pass it starts. */
  follow(status: FollowProgress): void {
    this.lag = Math.round(status.lagMs) / 1000;
    const fields = { pending: status.pending, refolded: status.refolded, caughtUp: status.caughtUp };
    if (status.pass !== undefined) this.emit('reconcile', { pass: status.pass, ...fields });
    else this.emit('progress', { ...fields, followKeysPerSec: status.keysPerSecond });
  }

  /** An event of the run's channel, as it happens. */
  event(e: RunEvent): void {
    const { kind, ...fields } = e;
    // A connection's event names its `server` (target or source); `source` is only a fallback's.
    this.emit(kind, { source: null, ...fields });
  }

  /** A line the CLI would have printed on stderr. */
  log(message: string, level: 'log' | 'error' = 'log'): void {
    this.emit(level, { message });
  }

  /**
   * The last event: the report's totals (`done` = keys scanned), how the run ended, and any fields of
   * the caller's (a verify's counts). Nothing is said after it.
   */
  done(fields: { totals?: Counts; outcome: string; durationMs: number; [field: string]: unknown }): void {
    const done = fields.totals?.scanned;
    this.emit('done', {
      source: null,
      ...(done !== undefined ? { done, total: done, etaSec: 0 } : { etaSec: 0 }),
      ...fields,
    });
    this.ended = true;
  }

  private emit(event: ProgressEventName, fields: Record<string, unknown>): void {
    if (this.ended) return;
    const at = this.now();
    const o: OverallSnapshot = this.overall.snapshot(at);
    const line: ProgressEvent = {
      ts: new Date(at).toISOString(),
      event,
      source: this.current,
      done: o.done,
      total: o.total,
      keysPerSec: o.keysPerSec,
      etaSec: o.etaSec,
      ...(o.bytes ? { bytesRead: o.bytes.read, bytesTotal: o.bytes.total } : {}),
      lag: this.lag,
      ...fields,
    };
    this.opts.write(`${JSON.stringify(this.opts.redact ? this.opts.redact(line) : line)}\n`);
  }
}
