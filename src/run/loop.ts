import type { Redis } from 'ioredis';
import { RunError } from '../common/errors.js';
import { Limiter } from '../common/limiter.js';
import { SeenKeys } from '../common/seen-keys.js';
import { redactUrl } from '../config/url.js';
import type { Backup } from '../journal/backup.js';
import type { ProbeUnit } from '../probe/probe.js';
import type { ProgressSink } from '../report/types.js';
import { type ScanBatch, scanBatches } from '../scan/scanner.js';
import { sourceKeyOf } from '../scan/source-key.js';
import type { Caps } from '../servers/caps.js';
import type { ClusterView } from '../servers/cluster/layout.js';
import { processBatch } from './batch.js';
import type { RunContext, SourceRun } from './context.js';
import type { Throttle } from './throttle.js';

/** The key set allocated up front: 8 bytes a slot, at most 2^24 slots (128 MiB, for 12M keys); past it, it grows. */
const MIN_SEEN = 1 << 14;
const MAX_SEEN_PRESIZE = 1 << 24;

/** One source as it is scanned: its masters, what its SCAN can do, and what of it is walked. */
export interface ScannedSource {
  nodes: readonly Redis[];
  caps: Caps;
  /** A cluster: its masters as they are (a failover, a reshard, a master added) are walked. */
  cluster?: ClusterView | undefined;
  match?: string | undefined;
  /** The server as a user may read it (redacted URL), for messages. */
  label: string;
  log?: ((line: string) => void) | undefined;
  /** Its key count where known: sizes the set of keys seen, and the scan's progress estimate. */
  keyspace?: number | undefined;
  /** Given the set of the keys the walk takes, as it starts (a merge keeps it: SourceReads.walked). */
  keep?: ((seen: SeenKeys) => void) | undefined;
}

/** What a command does with one source's scan. */
export interface SourcePass {
  scan: ScannedSource;
  /** The source's own batches (an RDB file), instead of a scan of `scan.nodes`. */
  batches?: AsyncIterable<ScanBatch>;
  /** Called in scan order, one batch at a time: the work on the batch, run within the limiter. */
  task(batch: ScanBatch): () => Promise<void>;
  /** Once its batches have settled, after a stop too (not after a failure the limiter rethrows). */
  finished?(): Promise<void>;
}

export interface SourceWalk {
  /** How many sources, walked in declared order (SPEC §1.2). */
  sources: number;
  /** Aborted: no further batch or source is started; the batches under way finish. */
  signal?: AbortSignal | undefined;
  /** Bounds the batches at once; it is idle between two sources. */
  limiter: Limiter;
  scan: { scanCount: number; batchSize: number };
  /** The pass over a source, or undefined to pass it over (a resume: already finished). */
  open(index: number): Promise<SourcePass | undefined>;
  /** A batch marked `after` (a later type of names earlier batches held, Pika 3.x) waits for them. */
  typeOrder?: boolean;
  /** --rate and --max-source-latency (SPEC §9.5): each batch waits for it before it is read. */
  throttle?: Throttle;
}

/**
 * The walk merge and verify share: every source in order, each scanned (each key once) and its
 * batches handed to the limiter as the scan yields them, so the scan pulls a new batch only when a
 * slot is free (SPEC §2.2). A source's batches all settle before the next source starts.
 */
export async function walkSources(walk: SourceWalk): Promise<void> {
  const { signal, limiter } = walk;
  for (let index = 0; index < walk.sources; index++) {
    if (signal?.aborted) break;
    const pass = await walk.open(index);
    if (!pass) continue;
    try {
      for await (const batch of pass.batches ?? sourceBatches(pass.scan, walk.scan)) {
        if (signal?.aborted) break;
        // Held before the limiter: a batch waiting for the rate does not take a slot.
        if (walk.throttle && !(await admitted(walk.throttle, batch.units.length, signal))) break;
        const task = pass.task(batch);
        if (walk.typeOrder && batch.after) await limiter.idle();
        await limiter.run(task);
      }
    } catch (err) {
      // A source's own batches that fail part-way (damage in an RDB file past its pre-read) stop the
      // run there, with the batches read before it written and counted first (SPEC §10).
      if (pass.batches) await limiter.idle().catch(() => undefined);
      throw err;
    }
    await limiter.idle();
    await pass.finished?.();
  }
}

/** Waits for the throttle; false when the signal stopped the wait (the walk ends as on any stop). */
async function admitted(throttle: Throttle, keys: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await throttle.admit(keys, signal);
    return true;
  } catch (err) {
    if (signal?.aborted) return false;
    throw err;
  }
}

/** The keys of one source in batches, each once (SCAN may return a key twice). */
function sourceBatches(
  source: ScannedSource,
  write: { scanCount: number; batchSize: number },
): AsyncGenerator<ScanBatch> {
  const keyspace = source.keyspace ?? 0;
  // Sized for the keyspace at once (growing re-inserts every key seen so far), within reason.
  const seen = new SeenKeys(Math.max(MIN_SEEN, Math.min(Math.ceil((keyspace * 4) / 3), MAX_SEEN_PRESIZE)));
  source.keep?.(seen);
  return scanBatches(
    source.nodes,
    {
      match: source.match,
      count: write.scanCount,
      batchSize: write.batchSize,
      server: source.label,
      ...(source.log ? { log: source.log } : {}),
    },
    seen,
    keyspace,
    source.caps,
    source.cluster,
  );
}

/**
 * The run loop: every source in declared order (SPEC §1.2), each scanned and its batches carried
 * through probe → decide → write → account (batch.ts). A resumed run first applies again the keys a
 * finished source failed; a source the journal records as finished is passed over. Ends early once
 * the run's signal is aborted (the user's stop or a failure); a thrown error stops the run too.
 */
export async function runSources(
  ctx: RunContext,
  sourceRun: (index: number) => SourceRun,
  progress?: ProgressSink,
): Promise<void> {
  const { state, backup } = ctx;
  if (progress?.planned) progress.planned(await plannedSizes(ctx, sourceRun));
  if (backup) await retryFailed(ctx, backup, sourceRun);
  await walkSources({
    sources: ctx.plan.sources.length,
    signal: state.signal,
    limiter: new Limiter(ctx.plan.write.concurrency),
    scan: ctx.plan.write,
    typeOrder: true,
    throttle: ctx.throttle,
    open: async (index) =>
      backup?.sourceFinished(index) ? undefined : mergePass(ctx, sourceRun(index), progress),
  });
}

/** Every source's DBSIZE before the first starts, so that progress has the run's total from the start. */
function plannedSizes(
  ctx: RunContext,
  sourceRun: (index: number) => SourceRun,
): Promise<{ name: string; estimatedKeys: number }[]> {
  return Promise.all(
    ctx.plan.sources.map(async (plan, index) => {
      // Under `match` the keyspace says nothing of the keys walked: unknown until the cursor tells.
      if (plan.match !== undefined) return { name: plan.name, estimatedKeys: 0 };
      const src = sourceRun(index);
      const size = await src.reader.keyspace().catch(() => undefined);
      return { name: plan.name, estimatedKeys: size ?? 0 };
    }),
  );
}

/**
 * Resume (SPEC §6.3): the keys a finished source did not apply (their step failed under --on-error
 * skip), put back into their first prior when the journal was opened, go through every finished
 * source again, in order, before the run goes on; the source it stopped in and the later ones apply
 * them in their own pass. So each ends as the fold over every source, as a run without the failure
 * leaves it. Marked retried once every finished source had them (a key that fails again stays failed).
 */
async function retryFailed(
  ctx: RunContext,
  backup: Backup,
  sourceRun: (index: number) => SourceRun,
): Promise<void> {
  const keys = backup.retryKeys();
  if (keys.length === 0) return;
  const { batchSize } = ctx.plan.write;
  for (let index = 0; index < ctx.plan.sources.length && backup.sourceFinished(index); index++) {
    const src = sourceRun(index);
    const units = keys.flatMap((targetKey): ProbeUnit[] => {
      const key = sourceKeyOf(src.plan, targetKey);
      // Only a question: a key this source does not hold is not counted.
      return key === undefined ? [] : [{ key, ifHeld: true }];
    });
    for (let i = 0; i < units.length; i += batchSize) {
      if (ctx.state.signal.aborted) return;
      const batch = units.slice(i, i + batchSize);
      try {
        await src.reader.hold?.(batch);
        await processBatch(ctx, src, batch);
      } catch (err) {
        ctx.state.stop(asRunError(err));
      } finally {
        src.reader.release(batch);
      }
    }
  }
  if (!ctx.state.signal.aborted) await backup.retried(keys);
}

/**
 * One source's pass of the merge: its batches, at most `concurrency` at once (limiter.ts). Keys of one
 * source are distinct, so their batches commute; sources run one after the other, which keeps the
 * fold in declared order whatever the concurrency (SPEC §1.2). The scan pulls a new batch only when
 * a slot is free, so memory holds at most `concurrency` batches (SPEC §2.2).
 */
async function mergePass(ctx: RunContext, src: SourceRun, progress?: ProgressSink): Promise<SourcePass> {
  const { state } = ctx;
  // The keyspace only feeds the progress estimate: a user who may not ask gets one from the cursor.
  const keyspace = await src.reader.keyspace().catch(() => undefined);
  const filtered = src.plan.match !== undefined || keyspace === undefined;
  progress?.sourceStarted(src.index, src.plan.name, filtered ? 0 : (keyspace ?? 0));
  let done = 0;
  let walked = 0;
  // Batches decide in scan order (each after the one before it) and write only after deciding: a
  // typeMismatch `fail` in batch n stops the run with nothing of batch n written and nothing of a later
  // batch decided or written, whatever the concurrency (SPEC §1.2).
  let previous: Promise<void> = Promise.resolve();
  let batchNumber = 0;
  return {
    batches: src.reader.batches?.(ctx.plan.write.batchSize),
    scan: {
      nodes: src.nodes,
      caps: src.caps,
      cluster: src.cluster,
      match: src.plan.match,
      label: `source ${src.plan.name} (${redactUrl(src.plan.url)})`,
      log: ctx.log,
      keyspace,
      keep: (seen) => {
        src.reads.walked = seen;
      },
    },
    task: (batch) => {
      walked = batch.walked;
      // Resume (SPEC §6.3): a step the interrupted run applied is not applied again. Only a resume
      // has such steps: a new run's batches are not sifted (a key and its prefix joined per key).
      const backup = ctx.backup?.appliedIn(src.index) ? ctx.backup : undefined;
      const units = backup
        ? batch.units.filter(
            (u) =>
              !backup.wasApplied(
                src.index,
                Buffer.concat([src.plan.prefix, u.key]),
                'type' in u ? u.type : undefined,
              ),
          )
        : batch.units;
      const earlier = previous;
      const seq = batchNumber++;
      let markDecided!: () => void;
      previous = new Promise<void>((resolve) => {
        markDecided = resolve;
      });
      return async () => {
        try {
          await processBatch(ctx, src, units, 1, { seq, earlier, decided: markDecided });
        } catch (err) {
          state.stop(asRunError(err));
        } finally {
          // A batch that failed before deciding must not hold the later ones back.
          await earlier;
          markDecided();
          src.reader.release(batch.units);
        }
        done += batch.units.length;
        const estimate = filtered
          ? walked > 0
            ? Math.max(done, Math.round(done / walked))
            : 0
          : (keyspace ?? 0);
        progress?.update(src.index, done, estimate, ctx.tally.totals(), src.reader.bytes?.(walked));
      };
    },
    finished: async () => {
      progress?.sourceFinished(src.index);
      if (!state.signal.aborted) await ctx.backup?.sourceDone(src.index);
    },
  };
}

export function asRunError(err: unknown): RunError {
  if (err instanceof RunError) return err;
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new RunError(`the run stopped: ${message}`);
}
