import { RunError } from '../common/errors.js';
import { type ProbeUnit, probeBatch } from '../probe/probe.js';
import { describeKey } from '../report/key-name.js';
import { failedFrom, type RunContext, type SourceRun } from './context.js';
import { decideProbes } from './decide.js';
import { prefetchBelow } from './path.js';
import { writeSteps } from './write-steps.js';

const MAX_ATTEMPTS = 3;

/**
 * Orders the batches of a source for a stop (SPEC §1.2 typeMismatch `fail`): a batch decides only once
 * `earlier` (the batch before it has decided) resolves, then calls `decided()`; a run stopped by then
 * records and writes nothing of this batch, whatever the concurrency.
 */
export interface BatchOrder {
  seq: number;
  earlier?: Promise<void>;
  decided?(): void;
}

/**
 * Carries one batch through probe → decide → account → write → account. Every unit of the batch
 * ends in exactly one counter, except units that must be decided again (the source or the target
 * changed between two round trips): those go round once more, up to MAX_ATTEMPTS. Further types of a
 * name (Pika 3.x, decide.ts) go round after the first one is written.
 */
export async function processBatch(
  ctx: RunContext,
  src: SourceRun,
  units: ProbeUnit[],
  attempt = 1,
  order?: BatchOrder,
): Promise<void> {
  const { plan, state } = ctx;
  const halted = (): boolean => state.halted(order?.seq);

  // probe
  const probes = await probeBatch(
    src.reader.probeSide,
    src.plan.prefix,
    { pipe: ctx.targetPipe, caps: ctx.targetCaps },
    src.earlier,
    units,
    {
      withMemory: !plan.dryRun,
      dryRun: plan.dryRun,
      dumpBelow: prefetchBelow(ctx, src),
      // A key decided again (it appeared on the target meanwhile, BUSYKEY) is asked about.
      assumeAbsent: attempt === 1 && state.absence.on,
    },
  );
  if (order?.earlier) await order.earlier;
  if (halted()) {
    order?.decided?.();
    return;
  }

  // decide, and account for the steps that end there
  const { ended, toWrite, later } = decideProbes(probes, {
    sourceIndex: src.index,
    sourceName: src.plan.name,
    table: plan.strategies,
    dryRun: plan.dryRun,
    target: ctx.targetCaps,
  });
  for (const { outcome, failure } of ended) {
    ctx.tally.record(outcome);
    if (failure) {
      state.keyFailed(failedFrom(src), outcome.key, failure.type, failure.reason, {
        stops: failure.stops,
        at: order?.seq,
      });
    }
  }
  order?.decided?.();
  if (halted()) return;

  // write (each step accounted for as its reply comes)
  const again = await writeSteps(ctx, src, toWrite, halted);

  if (again.length > 0 && !halted()) {
    if (attempt < MAX_ATTEMPTS) await processBatch(ctx, src, again, attempt + 1, order && { seq: order.seq });
    else {
      state.stop(
        new RunError(
          `${again.length} key(s) kept changing while being merged (e.g. ${describeKey(again[0]!.key)})`,
        ),
      );
    }
  }
  if (later.length > 0 && !state.signal.aborted)
    await processBatch(ctx, src, later, 1, order && { seq: order.seq });
}
