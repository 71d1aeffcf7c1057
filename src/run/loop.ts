import { RunError } from '../common/errors.js';
import { redactUrl } from '../config/url.js';
import type { Backup } from '../journal/backup.js';
import type { ProbeUnit } from '../probe/probe.js';
import type { ProgressSink } from '../report/types.js';
import { scanBatches } from '../scan/scanner.js';
import { SeenKeys } from '../scan/seen-keys.js';
import { sourceKeyOf } from '../scan/source-key.js';
import { serverKeyspace } from '../servers/server.js';
import { processBatch } from './batch.js';
import type { RunContext, SourceRun } from './context.js';
import { Limiter } from './limiter.js';

/** The key set allocated up front: 8 bytes a slot, at most 2^24 slots (128 MiB, for 12M keys); past it, it grows. */
const MIN_SEEN = 1 << 14;
const MAX_SEEN_PRESIZE = 1 << 24;

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
  if (backup) await retryFailed(ctx, backup, sourceRun);
  for (let index = 0; index < ctx.plan.sources.length; index++) {
    if (state.signal.aborted) break;
    if (backup?.sourceFinished(index)) continue;
    await mergeSource(ctx, sourceRun(index), progress);
    if (!state.signal.aborted) await backup?.sourceDone(index);
  }
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
      try {
        await processBatch(ctx, src, units.slice(i, i + batchSize));
      } catch (err) {
        ctx.state.stop(asRunError(err));
      }
    }
  }
  if (!ctx.state.signal.aborted) await backup.retried(keys);
}

/**
 * Scans one source and runs its batches, at most `concurrency` at once (limiter.ts). Keys of one
 * source are distinct, so their batches commute; sources run one after the other, which keeps the
 * fold in declared order whatever the concurrency (SPEC §1.2). The scan pulls a new batch only when
 * a slot is free, so memory holds at most `concurrency` batches (SPEC §2.2).
 */
async function mergeSource(ctx: RunContext, src: SourceRun, progress?: ProgressSink): Promise<void> {
  const { write } = ctx.plan;
  const { state } = ctx;
  // The keyspace only feeds the progress estimate: a user who may not ask gets one from the cursor.
  const keyspace = await serverKeyspace(src.nodes, src.caps).catch(() => undefined);
  const filtered = src.plan.match !== undefined || keyspace === undefined;
  progress?.sourceStarted(src.index, src.plan.name, filtered ? 0 : (keyspace ?? 0));
  const limiter = new Limiter(write.concurrency);
  let done = 0;
  let walked = 0;
  const batches = scanBatches(
    src.nodes,
    {
      match: src.plan.match,
      count: write.scanCount,
      batchSize: write.batchSize,
      server: `source ${src.plan.name} (${redactUrl(src.plan.url)})`,
      log: ctx.log,
    },
    // Sized for the keyspace at once (growing re-inserts every key seen so far), within reason.
    new SeenKeys(Math.max(MIN_SEEN, Math.min(Math.ceil(((keyspace ?? 0) * 4) / 3), MAX_SEEN_PRESIZE))),
    keyspace ?? 0,
    src.caps,
    src.cluster,
  );
  // Batches decide in scan order (each after the one before it) and write only after deciding: a
  // typeMismatch `fail` in batch n stops the run with nothing of batch n written and nothing of a later
  // batch decided or written, whatever the concurrency (SPEC §1.2).
  let previous: Promise<void> = Promise.resolve();
  let batchNumber = 0;
  for await (const batch of batches) {
    if (state.signal.aborted) break;
    walked = batch.walked;
    // Resume (SPEC §6.3): a step the interrupted run applied is not applied again.
    const backup = ctx.backup;
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
    // A later type of names that earlier batches held (Pika 3.x) waits for them: the fold order.
    if (batch.after) await limiter.idle();
    await limiter.run(async () => {
      try {
        await processBatch(ctx, src, units, 1, { seq, earlier, decided: markDecided });
      } catch (err) {
        state.stop(asRunError(err));
      } finally {
        // A batch that failed before deciding must not hold the later ones back.
        await earlier;
        markDecided();
      }
      done += batch.units.length;
      const estimate = filtered
        ? walked > 0
          ? Math.max(done, Math.round(done / walked))
          : 0
        : (keyspace ?? 0);
      progress?.update(src.index, done, estimate, ctx.tally.totals());
    });
  }
  await limiter.idle();
  progress?.sourceFinished(src.index);
}

export function asRunError(err: unknown): RunError {
  if (err instanceof RunError) return err;
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new RunError(`the run stopped: ${message}`);
}
