import type { ProbeUnit } from '../probe/probe.js';
import { openDoorAhead } from '../write/door.js';
import { type WriteItem, writeBatch } from '../write/writer.js';
import { EXPIRED, failStep, fellBack, record } from './account.js';
import type { RunContext, SourceRun } from './context.js';
import type { Step } from './decide.js';
import { dumpPath, nativeFallback, sourceRefusesDump, targetRefusesRestore, unsupported } from './path.js';
import { readForWrite, type StepRead, stepRead } from './read-values.js';
import { retryUnit, sharesName } from './units.js';

/**
 * Reads a group of values (and what the target holds, where a step needs it), writes them through
 * the writer's door, and counts each step; what the dump path could not carry is read natively and
 * written again in the same call. A step whose source or target changed meanwhile goes to `again`; a
 * value over the target's proto-max-bulk-len goes to `tooLarge`, to be copied in windows, and so does
 * a value that only one payload could carry whole when the dump path is refused for it.
 */
export async function writeGroup(
  ctx: RunContext,
  src: SourceRun,
  steps: Step[],
  again: ProbeUnit[],
  windows: {
    /** Where a step goes that is to be copied in windows after all (run/big.ts). */
    tooLarge: Step[];
    /** Steps sent whole only as one payload (write-steps.ts sizeUp): read natively, they go in windows. */
    wholeAsPayload: ReadonlySet<Step>;
  },
  /** The run stopped at or before this batch: send nothing more. */
  halted: () => boolean,
): Promise<void> {
  const { plan } = ctx;
  const { tooLarge, wholeAsPayload } = windows;
  const readNatively = (step: Step): void => {
    if (wholeAsPayload.has(step)) tooLarge.push(step);
    else toRead.push(stepRead(step, 'native'));
  };
  // A step decided on a target assumed to lack its key may only be a RESTORE without REPLACE (which
  // refuses to overwrite): any other way to write it is decided again, with the target asked.
  const assumed = (step: Step): boolean => step.probe.targetAssumed === true;
  const decideAgain = (step: Step): void => {
    again.push(retryUnit(src, step));
  };
  const toRead: StepRead[] = [];
  for (const step of steps) {
    if (assumed(step) && !dumpPath(ctx, src)) {
      decideAgain(step);
      continue;
    }
    const copies = step.decision.action !== 'merge';
    if (copies && plan.write.mode !== 'native' && !dumpPath(ctx, src) && step.type !== 'other') {
      nativeFallback(ctx, src, step);
    }
    toRead.push(stepRead(step, copies && dumpPath(ctx, src) ? 'dump' : 'native'));
  }
  while (toRead.length > 0) {
    const reading = toRead.splice(0);
    // Without a journal there is no door. The reads name their steps to it themselves (StepRead).
    const door = ctx.backup ? openDoorAhead(ctx.backup, src.index, reading) : undefined;
    const { values, target } = await readForWrite(ctx, src, reading);
    // Two parallel lists (the step, the item it writes): no pair object per key.
    const writingSteps: Step[] = [];
    const items: WriteItem[] = [];
    reading.forEach(({ step }, i) => {
      const value = values[i]!;
      if (value.state === 'gone') record(ctx, step, EXPIRED);
      else if (value.state === 'changed') again.push(retryUnit(src, step));
      else if (value.state === 'failed') failStep(ctx, src, step, value.message);
      else if (value.state === 'refused') {
        sourceRefusesDump(ctx, src, value.message);
        if (assumed(step)) decideAgain(step);
        else if (step.type === 'other') unsupported(ctx, src, step);
        else {
          fellBack(ctx, step, src.reads.nativeReason ?? 'source refuses DUMP');
          readNatively(step);
        }
      } else {
        writingSteps.push(step);
        items.push({
          name: step.name,
          type: step.type,
          source: step.source,
          action: step.decision.action as WriteItem['action'],
          value,
          targetDeadline: target ? target.deadlines[i]! : null,
          current: target?.currents[i],
          shared: sharesName(ctx, step),
          targetLength: target?.lengths[i],
        });
      }
    });

    // Stop at the failing key (SPEC §1.2, §6.4): a group not yet sent is not sent.
    if (halted()) return;
    const results = await writeBatch(ctx.targetPipe, items, {
      merge: plan.merge,
      protoMaxBulkLen: ctx.targetCaps.protoMaxBulkLen,
      clock: ctx.clock,
      dialect: ctx.targetCaps,
      door,
    });
    let assumedSent = 0;
    let assumedRefused = 0;
    results.forEach((result, i) => {
      const step = writingSteps[i]!;
      if (assumed(step)) {
        assumedSent++;
        if (result.status === 'retry') assumedRefused++;
      }
      switch (result.status) {
        case 'written':
          record(ctx, step, step.decision);
          break;
        case 'expired':
          record(ctx, step, EXPIRED);
          break;
        case 'retry':
          again.push(retryUnit(src, step));
          break;
        case 'native':
          if (result.wholeRun) targetRefusesRestore(ctx, result.reason);
          if (assumed(step)) {
            decideAgain(step);
            break;
          }
          fellBack(ctx, step, result.reason);
          if (step.type === 'other') unsupported(ctx, src, step);
          // Over proto-max-bulk-len: one SET or RESTORE could not carry it either; windows can.
          else if (!result.wholeRun) tooLarge.push(step);
          else readNatively(step);
          break;
        case 'failed':
          failStep(ctx, src, step, result.message);
      }
    });
    if (assumedSent > 0) ctx.state.absence.record(assumedSent, assumedRefused);
  }
}
