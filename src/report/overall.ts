import { formatDuration } from './summary.js';
import type { ByteProgress } from './types.js';

/** One source as progress sees it. */
export interface SourceProgress {
  name: string;
  /** DBSIZE (or the cursor's guess under `match`); 0 when unknown. */
  estimatedKeys: number;
  keysDone: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** An RDB file's bytes read; absent for a server. */
  bytes?: ByteProgress;
}

/** The run as a whole at one moment: what every renderer (lines, bars, JSON, metrics) says. */
export interface OverallSnapshot {
  done: number;
  /** The sum of the sources' totals: exact for a finished source, its estimate otherwise; null while
   * some source's size is unknown (a `match` filter before its cursor tells, no permission for DBSIZE). */
  total: number | null;
  /** Some part of `total` is an estimate (shown as `~`). */
  estimated: boolean;
  keysPerSec: number;
  /** Seconds left at the run's rate so far; null while the rate or the total is unknown. */
  etaSec: number | null;
  /** Seconds since the run's first source started. */
  elapsedSec: number;
  /** The RDB file sources' bytes read of their sizes, where the run has any. */
  bytes?: ByteProgress;
}

/**
 * The run's overall progress over all sources. The total is known up front when the run tells every
 * source's estimate at its start (`planned`); otherwise a source adds its estimate once it starts.
 * Time comes from the caller, so the arithmetic is testable without clocks.
 */
export class OverallProgress {
  readonly sources: SourceProgress[] = [];
  private startedAt: number | null = null;

  planned(sources: readonly { name: string; estimatedKeys: number }[]): void {
    sources.forEach((s, i) => {
      this.sources[i] ??= {
        name: s.name,
        estimatedKeys: s.estimatedKeys,
        keysDone: 0,
        startedAt: null,
        finishedAt: null,
      };
    });
  }

  started(index: number, name: string, estimatedKeys: number, now: number): SourceProgress {
    this.startedAt ??= now;
    const planned = this.sources[index];
    const s: SourceProgress = {
      name,
      // A source may not say its size at its start (match, no permission): the plan's guess stays.
      estimatedKeys: estimatedKeys > 0 ? estimatedKeys : (planned?.estimatedKeys ?? 0),
      keysDone: 0,
      startedAt: now,
      finishedAt: null,
    };
    this.sources[index] = s;
    return s;
  }

  update(index: number, keysDone: number, estimatedKeys: number, bytes?: ByteProgress): void {
    const s = this.sources[index];
    if (!s) return;
    s.keysDone = keysDone;
    if (estimatedKeys > 0) s.estimatedKeys = estimatedKeys;
    if (bytes) s.bytes = bytes;
  }

  finished(index: number, now: number): SourceProgress | undefined {
    const s = this.sources[index];
    if (s && s.finishedAt === null) s.finishedAt = now;
    return s;
  }

  snapshot(now: number): OverallSnapshot {
    let done = 0;
    let total = 0;
    let estimated = false;
    let unknown = false;
    for (const s of this.sources) {
      if (!s) continue;
      done += s.keysDone;
      if (s.finishedAt !== null) total += s.keysDone;
      else if (s.estimatedKeys > 0) {
        total += Math.max(s.estimatedKeys, s.keysDone);
        estimated = true;
      } else {
        total += s.keysDone;
        unknown = true;
      }
    }
    const elapsedSec = this.startedAt === null ? 0 : Math.max(0, now - this.startedAt) / 1000;
    const keysPerSec = elapsedSec > 0 ? Math.round(done / elapsedSec) : 0;
    const allDone = this.sources.length > 0 && this.sources.every((s) => s?.finishedAt != null);
    const bytes = this.bytes();
    // Where every source is a file, the ETA goes by bytes: a file's keys vary in size (a big value
    // takes as long as thousands of small ones), its bytes do not.
    const byBytes = bytes && this.sources.every((s) => s?.bytes);
    const etaSec = allDone
      ? 0
      : byBytes && elapsedSec > 0
        ? etaSeconds(bytes.read, bytes.total, bytes.read / elapsedSec)
        : unknown
          ? null
          : etaSeconds(done, total, keysPerSec);
    return {
      done,
      total: unknown || this.sources.length === 0 ? null : total,
      estimated,
      keysPerSec,
      etaSec,
      elapsedSec,
      ...(bytes ? { bytes } : {}),
    };
  }

  /** The file sources' bytes: a finished file counts whole. */
  private bytes(): ByteProgress | undefined {
    let read = 0;
    let total = 0;
    let any = false;
    for (const s of this.sources) {
      if (!s?.bytes) continue;
      any = true;
      read += s.finishedAt !== null ? s.bytes.total : s.bytes.read;
      total += s.bytes.total;
    }
    return any ? { read, total } : undefined;
  }
}

/** Seconds to go at `keysPerSec`, or null when nothing has gone yet; 0 once done reaches the total. */
export function etaSeconds(done: number, total: number, keysPerSec: number): number | null {
  if (total <= 0 || keysPerSec <= 0) return null;
  return Math.max(0, Math.round((total - done) / keysPerSec));
}

/** `ETA 1m 05s`, or `ETA ?` when it cannot be told yet. */
export function formatEta(etaSec: number | null): string {
  return etaSec === null ? 'ETA ?' : `ETA ${formatDuration(etaSec * 1000)}`;
}

/** `12000/~100000 keys (12%)[, 12.0/300.0 MB read], 812 keys/s, ETA 1m 50s`: the run's overall state, for the status lines and bars. */
export function overallText(o: OverallSnapshot): string {
  const known = o.total !== null && o.total > 0;
  const total = known ? `/${o.estimated ? '~' : ''}${o.total}` : '';
  const pct = known ? ` (${Math.min(100, Math.floor((o.done * 100) / o.total!))}%)` : '';
  const read = o.bytes ? `, ${megabytes(o.bytes.read)}/${megabytes(o.bytes.total)} MB read` : '';
  return `${o.done}${total} keys${pct}${read}, ${o.keysPerSec} keys/s, ${formatEta(o.etaSec)}`;
}

const megabytes = (bytes: number): string => (bytes / 1e6).toFixed(1);
