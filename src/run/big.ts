import type { ProbeUnit } from '../probe/probe.js';
import { UnsupportedPayloadError } from '../rdb/error.js';
import { RdbFileError } from '../rdb/file/index.js';
import { UnconfirmedError } from '../servers/confirm.js';
import { isServerReply, replyText } from '../servers/errors/classify.js';
import type { NativeType } from '../types/strategy.js';
import { copyBigKey } from '../write/bigkey.js';
import { openDoor } from '../write/door.js';
import { EXPIRED, failStep, record } from './account.js';
import type { RunContext, SourceRun } from './context.js';
import type { Step } from './decide.js';
import { retryUnit, sharesName } from './units.js';

/** A window of a big key aims at this many bytes. */
export const WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * One big key, window by window, within the byte budget; it ends in one counter, or in `again` when
 * the source changed under it. A server's error reply (OOM, NOPERM, a limit) or a window whose outcome
 * cannot be told (behind Sentinel) fails this key as it fails a small one, and --on-error decides
 * whether the run goes on; anything else (a lost server) is thrown and stops the run.
 */
export async function copyBig(
  ctx: RunContext,
  src: SourceRun,
  step: Step,
  again: ProbeUnit[],
): Promise<void> {
  const taken = await ctx.budget.acquire(WINDOW_BYTES * 2);
  // A window read on a connection that was re-established may come from a restarted server, where
  // the HSCAN/SSCAN/ZSCAN cursor means nothing and windows would be skipped: the copy is abandoned
  // (create and override leave the target key as it was) and the key fails with that reason. The
  // windows are read through the source's pipe, so its reconnections tell; on a cluster they count
  // every master's, and any of them abandons the copy (the safe side: the key is run again).
  const epoch = src.pipe.reconnects;
  const lost = (): boolean => src.pipe.reconnects !== epoch;
  try {
    const result = await copyBigKey(
      {
        values: src.reader.bigValues(),
        target: ctx.targetPipe,
        sourceCaps: src.caps,
        targetCaps: ctx.targetCaps,
        openTarget: ctx.openTarget,
        merge: ctx.plan.merge,
        temp: ctx.temp,
        clock: ctx.clock,
        // A window must fit in one bulk string of the target.
        windowBytes: Math.min(WINDOW_BYTES, Math.floor(ctx.targetCaps.protoMaxBulkLen / 4)),
        // Only the user's stop abandons a copy half-way; a failure elsewhere lets it finish.
        signal: ctx.state.userStop,
        lost,
        door: openDoor(ctx.backup, src.index),
      },
      {
        name: step.name,
        type: step.type as NativeType,
        source: step.source,
        sourceKey: step.probe.sourceKey,
        action: step.decision.action as 'create' | 'override' | 'merge',
        shared: sharesName(ctx, step),
      },
    ).catch((err: unknown) => {
      const reason = failureOf(err, step);
      if (reason === undefined) throw err;
      failStep(ctx, src, step, reason);
      return 'failed' as const;
    });
    if (result === 'failed') return;
    if (lost() && !ctx.state.interrupted) {
      const left =
        step.decision.action === 'merge'
          ? 'the windows sent before stay merged'
          : result === 'written'
            ? 'its value on the target may be incomplete'
            : 'the target key was left as it was';
      failStep(
        ctx,
        src,
        step,
        `the source connection was lost during this big key's windowed copy (${left}); run again for this key`,
      );
    } else if (result === 'written') record(ctx, step, step.decision);
    else if (result === 'expired' || result === 'gone') record(ctx, step, EXPIRED);
    else if (result === 'changed') again.push(retryUnit(src, step));
  } finally {
    ctx.budget.release(taken);
  }
}

/** The reason a big key fails for this error, or undefined when the error must stop the run. */
function failureOf(err: unknown, step: Step): string | undefined {
  if (err instanceof UnconfirmedError) return err.message;
  // A value of an RDB file that cannot be read in windows (a module's, damage past the pre-read).
  if (err instanceof RdbFileError || err instanceof UnsupportedPayloadError)
    return `${err.message} (the target key was left as it was)`;
  if (!isServerReply(err)) return undefined;
  const left =
    step.decision.action === 'merge'
      ? 'the windows sent before it stay merged'
      : 'the target key was left as it was';
  return `${replyText(err)} (${left})`;
}
