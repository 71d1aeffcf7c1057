import { ConfigError } from '../common/errors.js';
import { Limiter } from '../common/limiter.js';
import type { MergePlan } from '../config/plan.js';
import { redactUrl } from '../config/url.js';
import { openWindows } from '../journal/reader.js';
import { describeKey } from '../report/key-name.js';
import type { FollowProgress } from '../report/progress-json.js';
import type { FollowSummary } from '../report/types.js';
import type { Connected } from '../run/connect.js';
import type { RunAround, SnapshotRun } from '../run/merge.js';
import type { Throttle } from '../run/throttle.js';
import { now } from '../servers/clock.js';
import type { Server } from '../servers/server.js';
import type { Rules } from '../verify/expect.js';
import type { Side } from '../verify/sides.js';
import { ChangeFeed } from './feed.js';
import { Pending } from './pending.js';
import { FollowPriors } from './priors.js';
import { reconcile } from './reconcile.js';
import { type RefoldEnv, type Refolded, refoldKeys } from './refold.js';

/**
 * `--follow` (SPEC §9): after the snapshot, keeps the target equal to the fold of the sources' current
 * values over each key's prior, until stopped. The feed (feed.ts) is opened before the snapshot, so
 * every change made during it is pending when it ends. Then a straight loop: a reconciliation pass
 * where one is due (a gap: a dropped subscription, a restart, a flush, a full pending set, a Pika
 * interval), else the pending keys in batches, each folded again (refold.ts), `write.concurrency`
 * batches at once; a key is never in two batches at once (pending.ts). Stopping (the user's signal)
 * applies what is pending and ends; `untilCaughtUp` ends the first time nothing is pending.
 */

export interface FollowPlan {
  untilCaughtUp: boolean;
  intervalMs: number;
  maxPending: number;
  setNotifyConfig: boolean;
}

/** What a follow says as it goes, beside its log lines: for the progress line, the JSON events and tests. */
export type FollowStatus = FollowProgress;

export interface FollowHooks {
  signal?: AbortSignal;
  log: (line: string) => void;
  status?: (status: FollowStatus) => void;
}

/** Between two status lines while keys are pending (a line also comes at each caught-up and each pass). */
const STATUS_MS = 5_000;
/** After a batch failed on a connection, before its keys are tried again. */
const RETRY_MS = 1_000;
/** Passes the report names (the rest are counted). */
const PASSES_LISTED = 100;
/** Lag samples kept for the report's percentiles (a uniform sample of the keys applied). */
const LAG_SAMPLES = 10_000;

export class Follow implements RunAround {
  private feed?: ChangeFeed;
  private readonly pending: Pending;
  /** Sources a pass is due over, and why (the first reason given since the last pass). */
  private readonly passes = new Map<number, string>();
  private wake?: () => void;
  private readonly summary: FollowSummary = {
    refolded: 0,
    written: 0,
    deleted: 0,
    failed: 0,
    passCount: 0,
    passes: [],
    caughtUp: false,
    lagMs: { p50: 0, p99: 0, max: 0 },
  };
  private readonly lags: number[] = [];
  private lagsSeen = 0;

  constructor(
    private readonly plan: MergePlan,
    private readonly options: FollowPlan,
    private readonly hooks: FollowHooks,
  ) {
    this.pending = new Pending(options.maxPending);
  }

  /** Before the snapshot: subscribed to every source's changes (exit 2 where a source cannot say them). */
  async before(connected: Connected): Promise<void> {
    if (connected.targetInfo.multiTypeNames) {
      throw new ConfigError(
        '--follow',
        'the target keeps several types under one name (Pika 3.x), which a follow cannot fold again yet; follow into another target',
      );
    }
    const servers = liveServers(connected);
    this.feed = await ChangeFeed.open(
      servers.map((server, i) => ({ plan: this.plan.sources[i]!, server })),
      {
        changed: (source, key) => {
          if (!this.pending.add(key, now()))
            this.passDue(source, `more than ${this.options.maxPending} keys pending (--follow-max-pending)`);
          this.wake?.();
        },
        gap: (source, reason) => this.passDue(source, reason),
      },
      {
        setNotifyConfig: this.options.setNotifyConfig,
        intervalMs: this.options.intervalMs,
        log: this.hooks.log,
      },
    );
  }

  private passDue(source: number, reason: string): void {
    if (!this.passes.has(source)) this.passes.set(source, reason);
    this.summary.caughtUp = false;
    this.wake?.();
  }

  /** After the snapshot: the follow itself, until stopped or caught up. Returns whether the run is complete. */
  async after(run: SnapshotRun): Promise<{ complete: boolean; follow: FollowSummary }> {
    const { ctx, connected } = run;
    // The run's plan names the journal it chose (the CLI's default one in the state directory); the
    // plan this follow was given has no path when --backup was not given.
    const backup = (ctx.plan.safety.backup ?? this.plan.safety.backup)!;
    const windows = await openWindows(backup);
    const priors = await FollowPriors.load(backup).catch(async (err: unknown) => {
      await windows.close();
      throw err;
    });
    try {
      const side = (server: Server, i: number | 'target'): Side => ({
        server,
        pipe: i === 'target' ? connected.targetPipe : connected.sourcePipes[i]!,
        caps: i === 'target' ? connected.targetInfo : connected.sourceInfos[i]!,
        label:
          i === 'target'
            ? `target ${redactUrl(this.plan.target.url)}`
            : `source ${this.plan.sources[i]!.name}`,
      });
      const granularity = Math.max(
        connected.targetInfo.ttlGranularityMs,
        ...connected.sourceInfos.map((c) => c.ttlGranularityMs),
      );
      const rules: Rules = {
        table: this.plan.strategies,
        merge: this.plan.merge,
        ttlToleranceMs: 1_000 + granularity,
        targetStreamTtl: connected.targetInfo.streamTtl,
      };
      const env: RefoldEnv = {
        plan: this.plan,
        target: side(connected.target, 'target'),
        sources: liveServers(connected).map((s, i) => side(s, i)),
        rules,
        clock: ctx.clock,
        priors,
        // The follow's steps are journaled under a source number of their own (one past the last).
        door: ctx.backup?.door(this.plan.sources.length),
        windows: windows.read,
        temp: ctx.temp,
      };
      if (ctx.backup?.resumeSummary()) {
        for (const i of this.plan.sources.keys())
          this.passDue(i, 'resumed: changes made while it was stopped are unknown');
      }
      this.hooks.log(
        `follow: snapshot done; following ${this.plan.sources.length} source(s), ${this.pending.size} change(s) pending`,
      );
      await this.loop(env, ctx.throttle);
      return { complete: this.options.untilCaughtUp && this.summary.caughtUp, follow: this.finish() };
    } finally {
      await Promise.all([windows.close(), priors.close()]);
    }
  }

  private async loop(env: RefoldEnv, throttle?: Throttle): Promise<void> {
    const limiter = new Limiter(this.plan.write.concurrency);
    const signal = this.hooks.signal;
    let lastStatus = now();
    let refoldedAtStatus = 0;
    let pauseUntil = 0;
    let saidCaughtUp = false;
    const report = (pass?: string): void => {
      const at = now();
      const status: FollowStatus = {
        pending: this.pending.size + this.pending.busy,
        lagMs: Math.round(this.pending.lag(at)),
        refolded: this.summary.refolded,
        keysPerSecond: Math.round(
          ((this.summary.refolded - refoldedAtStatus) * 1000) / Math.max(1, at - lastStatus),
        ),
        caughtUp: this.summary.caughtUp,
        ...(pass ? { pass } : {}),
      };
      const held = throttle?.status().waiting;
      lastStatus = at;
      refoldedAtStatus = this.summary.refolded;
      this.hooks.status?.(status);
      return void this.hooks.log(
        `follow: ${status.pending} pending, lag ${(status.lagMs / 1000).toFixed(1)} s, ` +
          `${status.keysPerSecond} keys/s, ${status.refolded} folded again in all` +
          (pass ? `; ${pass}` : status.caughtUp ? '; caught up' : '') +
          (held ? `; held back: ${held}` : ''),
      );
    };
    for (;;) {
      const stopping = signal?.aborted === true;
      if (this.passes.size > 0 && !stopping) {
        await limiter.idle();
        const [source, reason] = this.passes.entries().next().value as [number, string];
        this.passes.delete(source);
        const what = `reconciliation pass over source ${this.plan.sources[source]!.name}: ${reason}`;
        report(what);
        const keys = await reconcile(env, source, {
          plan: this.plan,
          limiter,
          throttle,
          signal,
          folded: (refolded) => {
            this.account(refolded);
            for (const key of refolded.again) this.pending.add(key, now());
          },
        });
        this.summary.passCount++;
        this.summary.passes.push({ source: this.plan.sources[source]!.name, reason, keys });
        // A Pika source followed for a day makes 1,440 passes: the report keeps the last ones.
        if (this.summary.passes.length > PASSES_LISTED) this.summary.passes.shift();
        if (signal?.aborted) {
          // Cut short by the stop: still due, and said so when the follow ends.
          this.passDue(source, reason);
          this.hooks.log(`follow: ${what}: stopped after ${keys} key(s)`);
        } else this.hooks.log(`follow: ${what}: ${keys} key(s) compared`);
        continue;
      }
      if (this.pending.ready && now() >= pauseUntil) {
        this.summary.caughtUp = false;
        // A slot first, then the keys: under load a batch gathers what arrived meanwhile.
        await limiter.free();
        const taken = this.pending.take(this.plan.write.batchSize);
        // The rate holds for the follow as for the snapshot; a stop drains what is pending at that rate.
        if (throttle) await held(throttle.admit(taken.length), () => report());
        await limiter.run(async () => {
          const keys = taken.map((t) => t.key);
          try {
            const refolded = await refoldKeys(env, keys);
            this.account(refolded);
            const again = new Set(refolded.again);
            const at = now();
            for (const t of taken) {
              if (again.has(t.key)) this.pending.add(t.key, t.since);
              else this.sampleLag(at - t.since);
            }
          } catch (err) {
            // A server out of reach: the keys stay pending, tried again once it answers.
            for (const t of taken) this.pending.add(t.key, t.since);
            pauseUntil = now() + RETRY_MS;
            this.hooks.log(
              `follow: folding ${keys.length} key(s) again failed, retrying: ${(err as Error).message}`,
            );
          } finally {
            this.pending.done(keys);
            this.wake?.();
          }
        });
        if (now() - lastStatus >= STATUS_MS) report();
        continue;
      }
      if (this.pending.size === 0 && this.pending.busy === 0 && this.passes.size === 0) {
        if (!this.summary.caughtUp) {
          this.summary.caughtUp = true;
          // The first catch-up is said at once; later ones with the next status period.
          if (!saidCaughtUp || now() - lastStatus >= STATUS_MS) report();
          saidCaughtUp = true;
        }
        if (this.options.untilCaughtUp || stopping) break;
      } else if (stopping && this.pending.size === 0 && this.pending.busy === 0) break;
      let wake: (() => void) | undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(10, Math.min(200, pauseUntil - now())));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.wake = wake;
        signal?.addEventListener('abort', wake, { once: true });
      });
      // Each wait adds a listener to the signal: one left there would pile up for as long as the follow runs.
      if (wake) signal?.removeEventListener('abort', wake);
      this.wake = undefined;
      if (now() - lastStatus >= STATUS_MS && this.pending.size > 0) report();
    }
    await limiter.idle();
    if (this.passes.size > 0) {
      this.hooks.log(
        `follow: stopped with a reconciliation pass due over ${[...this.passes.keys()].map((i) => this.plan.sources[i]!.name).join(', ')}; ` +
          'run again with --resume --follow to make it',
      );
    }
  }

  private account(r: Refolded): void {
    this.summary.refolded += r.checked;
    this.summary.written += r.written;
    this.summary.deleted += r.deleted;
    this.summary.failed += r.failed.length;
    for (const { key, reason } of r.failed)
      this.hooks.log(`follow: ${describeKey(key)} not folded again: ${reason}`);
  }

  private sampleLag(ms: number): void {
    this.lagsSeen++;
    if (this.lags.length < LAG_SAMPLES) this.lags.push(ms);
    else {
      const slot = Math.floor(Math.random() * this.lagsSeen);
      if (slot < LAG_SAMPLES) this.lags[slot] = ms;
    }
    if (ms > this.summary.lagMs.max) this.summary.lagMs.max = Math.round(ms);
  }

  private finish(): FollowSummary {
    const sorted = [...this.lags].sort((a, b) => a - b);
    const at = (q: number): number =>
      sorted.length === 0
        ? 0
        : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    this.summary.lagMs = { p50: at(0.5), p99: at(0.99), max: this.summary.lagMs.max };
    return this.summary;
  }

  close(): void {
    this.feed?.close();
  }
}

/** Waits for the throttle, with a status line each period while it holds the follow back. */
async function held(admitted: Promise<void>, report: () => void): Promise<void> {
  let done = false;
  const settled = admitted.finally(() => {
    done = true;
  });
  while (!done) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((r) => (timer = setTimeout(r, STATUS_MS)))]);
    clearTimeout(timer);
    if (!done) report();
  }
  await settled;
}

/** The sources' servers: a follow reads changes from servers, and an RDB file source never changes. */
function liveServers(connected: Connected): Server[] {
  return connected.sources.map((server) => {
    if (!server)
      throw new ConfigError('--follow', 'an RDB file source does not change: a follow needs live sources');
    return server;
  });
}
