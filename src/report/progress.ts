import type { MultiBar } from 'cli-progress';
import { type Counts, emptyCounts } from './counters.js';
import { formatEta, OverallProgress, overallText, type SourceProgress } from './overall.js';
import { formatDuration } from './summary.js';
import type { ByteProgress, ProgressSink } from './types.js';

export type ProgressMode = 'bars' | 'lines' | 'none';

export interface ProgressOptions {
  /** Where progress goes: stderr, so that stdout stays clean for `--json`. */
  stream: NodeJS.WriteStream;
  mode: ProgressMode;
  /** 'lines' only: the least time between two status lines (default 5000). */
  intervalMs?: number;
}

interface SourceState extends SourceProgress {
  startedAt: number;
  /** The run's totals when this source started: its own counters are the difference. */
  totalsAtStart: Counts;
}

/**
 * The CLI's renderer of SPEC §5.1 progress. The library reports through ProgressSink and never
 * learns which of these it talks to. stop() releases every timer, so a finished run does not keep
 * node alive. cli-progress is loaded only for bars: a run without a terminal does not pay for it.
 */
export async function createProgress(opts: ProgressOptions): Promise<ProgressSink> {
  switch (opts.mode) {
    case 'bars':
      return new BarsProgress(opts.stream, (await import('cli-progress')).default);
    case 'lines':
      return new LinesProgress(opts.stream, opts.intervalMs ?? 5000);
    case 'none':
      return silent;
  }
}

const silent: ProgressSink = {
  sourceStarted() {},
  update() {},
  sourceFinished() {},
  stop() {},
};

const COUNTER_FIELDS = ['created', 'overridden', 'merged', 'skipped', 'expired', 'failed'] as const;

function counterText(totals: Counts, sep: string): string {
  return COUNTER_FIELDS.map((f) => `${f} ${totals[f]}`).join(sep);
}

/** The counters added since `start`: one source's share of the run's totals. */
function since(totals: Counts, start: Counts): Counts {
  const out = { ...totals };
  for (const key of Object.keys(out) as (keyof Counts)[]) out[key] = totals[key] - start[key];
  return out;
}

function keysPerSecond(s: SourceState, now: number): number {
  const seconds = ((s.finishedAt ?? now) - s.startedAt) / 1000;
  return seconds > 0 ? Math.round(s.keysDone / seconds) : 0;
}

/** Whole percent, or null when the total is unknown; an estimate can be exceeded, so it is capped. */
function percent(s: SourceState): number | null {
  if (s.estimatedKeys <= 0) return null;
  return Math.min(100, Math.floor((s.keysDone * 100) / s.estimatedKeys));
}

/**
 * Plain status lines for logs and pipes: one on each source start and finish, and the run's state at
 * most every `intervalMs`, both when updates arrive and, through a timer, when they stall (a silent log
 * during a long big-key copy looks like a hang). Each line carries its time (ISO 8601); a status line
 * carries the run's overall keys done of the sources' total (`~` while part of it is DBSIZE's
 * estimate), keys/s and ETA, then the current source's share and the running counters.
 */
class LinesProgress implements ProgressSink {
  private readonly overall = new OverallProgress();
  private readonly sources: SourceState[] = [];
  private current = -1;
  private totals: Counts = emptyCounts();
  private lastPrint = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly intervalMs: number,
  ) {}

  planned(sources: readonly { name: string; estimatedKeys: number }[]): void {
    this.overall.planned(sources);
  }

  sourceStarted(index: number, name: string, estimatedKeys: number): void {
    if (this.stopped) return;
    const now = Date.now();
    const started = this.overall.started(index, name, estimatedKeys, now);
    this.sources[index] = { ...started, startedAt: now, totalsAtStart: { ...this.totals } };
    this.current = index;
    const about = estimatedKeys > 0 ? `about ${estimatedKeys} keys` : 'key count unknown';
    this.write(`${name} started (${about}); run ${overallText(this.overall.snapshot(now))}`, now);
    this.lastPrint = now;
    if (this.timer === null && this.intervalMs > 0) {
      this.timer = setInterval(() => this.printIfDue(Date.now()), this.intervalMs);
      // Progress must never be the reason the process stays up.
      this.timer.unref();
    }
  }

  update(index: number, keysDone: number, estimatedKeys: number, totals: Counts, bytes?: ByteProgress): void {
    const s = this.sources[index];
    if (this.stopped || !s) return;
    s.keysDone = keysDone;
    s.estimatedKeys = estimatedKeys;
    this.overall.update(index, keysDone, estimatedKeys, bytes);
    this.totals = totals;
    this.current = index;
    this.printIfDue(Date.now());
  }

  sourceFinished(index: number): void {
    const s = this.sources[index];
    if (this.stopped || !s || s.finishedAt !== null) return;
    const now = Date.now();
    s.finishedAt = now;
    this.overall.finished(index, now);
    this.write(
      `${s.name} finished: ${s.keysDone} keys in ${formatDuration(now - s.startedAt)}, ` +
        `${keysPerSecond(s, now)} keys/s; ${counterText(since(this.totals, s.totalsAtStart), ' ')}`,
      now,
    );
    this.lastPrint = now;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private printIfDue(now: number): void {
    const s = this.sources[this.current];
    if (!s || s.finishedAt !== null || now - this.lastPrint < this.intervalMs) return;
    const pct = percent(s);
    const done = pct === null ? `${s.keysDone} keys` : `${s.keysDone}/${s.estimatedKeys} keys (${pct}%)`;
    const run = overallText(this.overall.snapshot(now));
    this.write(
      `${run}; ${s.name} ${done}, ${keysPerSecond(s, now)} keys/s; ${counterText(this.totals, ' ')}`,
      now,
    );
    this.lastPrint = now;
  }

  private write(line: string, now: number): void {
    this.stream.write(`[kvmerge] ${new Date(now).toISOString()} ${line}\n`);
  }
}

const BAR_WIDTH = 16;

/**
 * cli-progress bars for a terminal: one per source, under a line of running counters. The library's
 * terminal tricks (hidden cursor, disabled wrapping, its own SIGINT handler) are left off: each one
 * leaves the terminal or the signal handling changed if the process ends without stop(), and the CLI
 * owns Ctrl-C (exit 130 after the summary).
 */
class BarsProgress implements ProgressSink {
  private readonly multi: MultiBar;
  private readonly overall = new OverallProgress();
  private readonly sources: SourceState[] = [];
  private totals: Counts = emptyCounts();
  private nameWidth = 0;
  private started = false;
  private stopped = false;

  constructor(stream: NodeJS.WriteStream, cliProgress: typeof import('cli-progress')) {
    this.multi = new cliProgress.MultiBar({
      stream,
      fps: 5,
      hideCursor: false,
      linewrap: true,
      gracefulExit: false,
      clearOnComplete: false,
      format: () => '',
    });
  }

  sourceStarted(index: number, name: string, estimatedKeys: number): void {
    if (this.stopped) return;
    if (!this.started) {
      this.started = true;
      this.multi.create(1, 0, undefined, { format: () => this.renderRun() });
    }
    const now = Date.now();
    const started = this.overall.started(index, name, estimatedKeys, now);
    const state: SourceState = { ...started, startedAt: now, totalsAtStart: { ...this.totals } };
    this.sources[index] = state;
    this.nameWidth = Math.max(this.nameWidth, name.length);
    this.multi.create(1, 0, undefined, { format: () => this.renderSource(state) });
  }

  update(index: number, keysDone: number, estimatedKeys: number, totals: Counts, bytes?: ByteProgress): void {
    const s = this.sources[index];
    if (this.stopped || !s) return;
    // The bars read this state when cli-progress redraws (at most `fps` times a second), so an
    // update per batch costs a few assignments, not a render.
    s.keysDone = keysDone;
    s.estimatedKeys = estimatedKeys;
    this.overall.update(index, keysDone, estimatedKeys, bytes);
    this.totals = totals;
  }

  planned(sources: readonly { name: string; estimatedKeys: number }[]): void {
    this.overall.planned(sources);
  }

  sourceFinished(index: number): void {
    const s = this.sources[index];
    if (this.stopped || !s || s.finishedAt !== null) return;
    s.finishedAt = Date.now();
    this.overall.finished(index, s.finishedAt);
  }

  /** The top line: the time, the run's overall progress and its running counters. */
  private renderRun(): string {
    const now = Date.now();
    const time = `${new Date(now).toISOString().slice(0, 19)}Z`;
    return `${time} run ${overallText(this.overall.snapshot(now))} | ${counterText(this.totals, '  ')}`;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    // MultiBar.stop() draws the final state and clears its redraw timer; without any bar it would
    // only print an empty line.
    if (this.started) this.multi.stop();
  }

  private renderSource(s: SourceState): string {
    const now = Date.now();
    const name = s.name.padEnd(this.nameWidth);
    const rate = keysPerSecond(s, now);
    const pct = percent(s);
    const parts: string[] = [];
    if (pct === null) {
      parts.push(`${name} ${s.keysDone} keys`);
    } else {
      const filled = Math.round((pct / 100) * BAR_WIDTH);
      const bar = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled);
      parts.push(`${name} ${bar} ${String(pct).padStart(3)}%`, `${s.keysDone}/${s.estimatedKeys} keys`);
    }
    parts.push(`${rate} keys/s`);
    if (s.finishedAt !== null) {
      parts.push(`done in ${formatDuration(s.finishedAt - s.startedAt)}`);
    } else if (pct !== null && rate > 0) {
      const left = Math.max(0, s.estimatedKeys - s.keysDone);
      parts.push(formatEta(Math.round(left / rate)));
    }
    return parts.join(' | ');
  }
}
