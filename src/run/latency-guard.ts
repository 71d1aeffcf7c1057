/**
 * The latency guard behind `--max-source-latency MS` (SPEC §9.5): each source is pinged every
 * 200 ms, one ping at a time, and its p99 over the samples of the last 10 s is compared with MS. A
 * ping still outstanding counts as a sample of its elapsed time so far, so that a source blocked (a
 * DEBUG SLEEP, a slow command of someone else's) is seen as slow while it is blocked, not only once it
 * answers. Samples age out of the window, so one old slow sample never holds the run back for longer
 * than the window.
 */

/** One per source: the lead passes `() => transport.send([['PING']])`. */
export interface LatencyProbe {
  label: string;
  ping(): Promise<void>;
}

export interface LatencyGuardOptions {
  maxMs: number;
  clock: () => number;
  /** Samples older than this are dropped (default 10 s). */
  windowMs?: number;
  /** Time between pings of one source (default 200 ms). */
  intervalMs?: number;
}

interface Sample {
  at: number;
  ms: number;
}

class Source {
  readonly samples: Sample[] = [];
  /** When the ping in flight was sent; undefined: none in flight. */
  since: number | undefined;

  constructor(readonly probe: LatencyProbe) {}
}

export class LatencyGuard {
  readonly maxMs: number;
  private readonly clock: () => number;
  private readonly windowMs: number;
  private readonly sources: Source[];
  private readonly timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(probes: LatencyProbe[], opts: LatencyGuardOptions) {
    if (!(opts.maxMs > 0))
      throw new RangeError(`max source latency must be a positive number, not ${opts.maxMs}`);
    this.maxMs = opts.maxMs;
    this.clock = opts.clock;
    this.windowMs = opts.windowMs ?? 10_000;
    this.sources = probes.map((probe) => new Source(probe));
    if (this.sources.length === 0) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), opts.intervalMs ?? 200);
    this.timer.unref();
  }

  /** Each source's p99 over the window (the ping in flight included); undefined: no sample yet. */
  p99s(): { label: string; p99Ms: number | undefined }[] {
    const now = this.clock();
    return this.sources.map((source) => ({ label: source.probe.label, p99Ms: this.p99(source, now) }));
  }

  /** Why admit() must wait now (the slowest source over the bound), or undefined. */
  over(): string | undefined {
    let worst: { label: string; p99Ms: number } | undefined;
    for (const { label, p99Ms } of this.p99s()) {
      if (p99Ms !== undefined && p99Ms > this.maxMs && (!worst || p99Ms > worst.p99Ms))
        worst = { label, p99Ms };
    }
    return worst && `source ${worst.label} p99 ${Math.round(worst.p99Ms)} ms > ${this.maxMs} ms`;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private tick(): void {
    for (const source of this.sources) {
      if (source.since !== undefined) continue;
      const since = this.clock();
      source.since = since;
      // A failed ping is a sample too (its time until the failure); the run's own commands report the error.
      const settle = () => {
        if (this.closed) return;
        source.since = undefined;
        const at = this.clock();
        source.samples.push({ at, ms: at - since });
      };
      let pending: Promise<void>;
      try {
        pending = source.probe.ping();
      } catch {
        pending = Promise.resolve();
      }
      pending.then(settle, settle);
    }
  }

  private p99(source: Source, now: number): number | undefined {
    const from = now - this.windowMs;
    const { samples } = source;
    let old = 0;
    while (old < samples.length && samples[old]!.at < from) old++;
    if (old > 0) samples.splice(0, old);
    const values = samples.map((sample) => sample.ms);
    if (source.since !== undefined) values.push(now - source.since);
    if (values.length === 0) return undefined;
    values.sort((a, b) => a - b);
    // Nearest rank: with fewer than 100 samples (50 in 10 s at one ping each 200 ms) this is the maximum.
    return values[Math.ceil(values.length * 0.99) - 1];
  }
}
