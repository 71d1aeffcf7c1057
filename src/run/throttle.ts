/**
 * `--rate N` and `--max-source-latency MS` (SPEC §9.5): one Throttle per run, whose admit() every batch
 * of keys read from a source awaits first (snapshot and follow alike). It waits until the token bucket
 * (token-bucket.ts) holds the batch's keys and no source's recent p99 latency (latency-guard.ts) is over
 * its bound. Neither option set: no timer at all, and admit() returns at once.
 */
import { LatencyGuard, type LatencyProbe } from './latency-guard.js';
import { TokenBucket } from './token-bucket.js';

export type { LatencyProbe } from './latency-guard.js';

export interface ThrottleOptions {
  /** --rate: keys a second over all sources (token bucket); undefined: no cap. */
  rate?: number;
  /** --max-source-latency: ms; while a source's recent p99 command latency is above it, admit() waits. */
  maxSourceLatencyMs?: number;
  /** Injected for unit tests; default performance.now. */
  clock?: () => number;
  /** Injected for unit tests: waits `ms` (default an unref'd setTimeout), rejects with signal.reason on abort. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The latency samples' window (default 10 s); shorter in tests. */
  windowMs?: number;
  /** Time between two pings of a source (default 200 ms). */
  probeIntervalMs?: number;
  /** How often a wait for latency re-checks (default 100 ms). */
  recheckMs?: number;
}

export interface ThrottleStatus {
  /** The configured --rate, keys/s; undefined: no cap. */
  rate: number | undefined;
  /** The configured --max-source-latency, ms; undefined: not guarded. */
  maxSourceLatencyMs: number | undefined;
  /** Keys admitted a second over the last 5 s (counted only while a limit is set). */
  keysPerSec: number;
  /** Each source's p99 over the window, ms (undefined: no sample yet); empty without --max-source-latency. */
  sources: { label: string; p99Ms: number | undefined }[];
  /** Why admit() is holding a batch now: "source b p99 312 ms > 100 ms" or "rate 2000 keys/s"; undefined: not waiting. */
  waiting: string | undefined;
}

const RATE_WINDOW_MS = 5000;
const DONE = Promise.resolve();

/** An unref'd setTimeout: rejects with signal.reason once the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class Throttle {
  private readonly clock: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly recheckMs: number;
  private readonly bucket: TokenBucket | undefined;
  private readonly guard: LatencyGuard | undefined;
  private readonly active: boolean;
  private readonly started: number;
  /** Batches admitted in the last RATE_WINDOW_MS: when, and how many keys. */
  private readonly admitted: { at: number; keys: number }[] = [];
  /** Batches waiting for their tokens now. */
  private waitingForRate = 0;
  private waitingForLatency = 0;

  constructor(
    readonly opts: ThrottleOptions,
    probes: LatencyProbe[] = [],
  ) {
    this.clock = opts.clock ?? (() => performance.now());
    this.sleep = opts.sleep ?? sleep;
    this.recheckMs = opts.recheckMs ?? 100;
    this.started = this.clock();
    if (opts.rate !== undefined) this.bucket = new TokenBucket(opts.rate, this.clock);
    if (opts.maxSourceLatencyMs !== undefined) {
      this.guard = new LatencyGuard(probes, {
        maxMs: opts.maxSourceLatencyMs,
        clock: this.clock,
        windowMs: opts.windowMs,
        intervalMs: opts.probeIntervalMs,
      });
    }
    this.active = this.bucket !== undefined || this.guard !== undefined;
  }

  /**
   * Waits until `keys` keys may be read (the bucket holds them) and no source is over its latency
   * bound. On abort it rejects with signal.reason (at once if the signal is already aborted), and
   * gives the batch's tokens back. Without either limit it returns a settled promise at once.
   */
  admit(keys: number, signal?: AbortSignal): Promise<void> {
    if (!this.active) return DONE;
    return this.wait(keys, signal);
  }

  status(): ThrottleStatus {
    const now = this.clock();
    this.forget(now);
    const keys = this.admitted.reduce((sum, batch) => sum + batch.keys, 0);
    const span = Math.min(RATE_WINDOW_MS, now - this.started);
    const over = this.guard?.over();
    let waiting: string | undefined;
    if (over !== undefined && this.waitingForLatency > 0) waiting = over;
    else if (this.waitingForRate > 0) waiting = `rate ${this.opts.rate} keys/s`;
    return {
      rate: this.opts.rate,
      maxSourceLatencyMs: this.opts.maxSourceLatencyMs,
      keysPerSec: span > 0 ? (keys * 1000) / span : 0,
      sources: this.guard?.p99s() ?? [],
      waiting,
    };
  }

  /** Stops the probes' timers. */
  close(): void {
    this.guard?.close();
  }

  private async wait(keys: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    await this.latencyClear(signal);
    if (this.bucket) {
      const ms = this.bucket.reserve(keys);
      if (ms > 0) {
        this.waitingForRate++;
        try {
          await this.sleep(ms, signal);
        } catch (err) {
          this.bucket.refund(keys);
          throw err;
        } finally {
          this.waitingForRate--;
        }
      }
    }
    const now = this.clock();
    this.admitted.push({ at: now, keys });
    this.forget(now);
  }

  private async latencyClear(signal?: AbortSignal): Promise<void> {
    if (!this.guard || this.guard.over() === undefined) return;
    this.waitingForLatency++;
    try {
      while (this.guard.over() !== undefined) await this.sleep(this.recheckMs, signal);
    } finally {
      this.waitingForLatency--;
    }
  }

  private forget(now: number): void {
    let old = 0;
    while (old < this.admitted.length && this.admitted[old]!.at < now - RATE_WINDOW_MS) old++;
    if (old > 0) this.admitted.splice(0, old);
  }
}
