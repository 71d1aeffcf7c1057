import type { ProbeUnit } from '../probe/probe.js';
import { UnsupportedPayloadError } from '../rdb/error.js';
import { RdbFileError } from '../rdb/file/index.js';
import { describeKey } from '../report/key-name.js';
import { UnconfirmedError } from '../servers/confirm.js';
import { isServerReply, replyText } from '../servers/errors/classify.js';
import type { NativeType } from '../types/strategy.js';
import { type BigKeyResult, copyBigKey } from '../write/bigkey.js';
import { openDoor } from '../write/door.js';
import { streamBigKey, type ToWindows } from '../write/stream-copy.js';
import { EXPIRED, failStep, fellBack, record } from './account.js';
import type { RunContext, SourceRun } from './context.js';
import type { Step } from './decide.js';
import { dumpPath, nativeFallback, targetRefusesRestore } from './path.js';
import { retryUnit, sharesName } from './units.js';

/** A window of a big key aims at this many bytes. */
export const WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * One big key, within the byte budget; it ends in one counter, or in `again` when the source changed
 * under it. A create or an override on the dump path travels as one DUMP payload streamed into one
 * RESTORE (write/stream-copy.ts) where it can; anything else, and what that path cannot carry, goes
 * window by window (`stream: false`: straight to windows). A server's error reply (OOM, NOPERM, a limit)
 * or a write whose outcome cannot be told (behind Sentinel) fails this key as it fails a small one, and
 * --on-error decides whether the run goes on; anything else (a lost server) is thrown and stops the run.
 */
export async function copyBig(
  ctx: RunContext,
  src: SourceRun,
  step: Step,
  again: ProbeUnit[],
  opts: { stream?: boolean } = {},
): Promise<void> {
  const taken = await ctx.budget.acquire(WINDOW_BYTES * 2);
  try {
    let priorKept = false;
    const path = opts.stream === false ? 'windows' : wholeCopyPath(ctx, src, step);
    // A copy the dump path would have streamed whole goes in windows since a server refused DUMP or RESTORE.
    if (path === 'fallback') nativeFallback(ctx, src, step);
    if (path === 'stream') {
      const streamed = await streamBig(ctx, src, step).catch(failWith(ctx, src, step));
      if (streamed === 'failed') return;
      if (typeof streamed === 'string') return settle(ctx, src, step, streamed, again);
      priorKept = streamed.journaled;
      if (streamed.native) {
        if (streamed.native.wholeRun) targetRefusesRestore(ctx, streamed.native.reason);
        fellBack(ctx, step, streamed.native.reason);
      } else
        ctx.log(
          `${describeKey(step.name)} from ${src.plan.name}: ${streamed.windows}; copying it in windows`,
        );
    }
    await copyWindows(ctx, src, step, again, priorKept);
  } finally {
    ctx.budget.release(taken);
  }
}

/**
 * How a big key travels: streamed whole (a create or an override on the dump path, server to server),
 * or in windows; `fallback` where the dump path was turned off by a server's refusal (SPEC §2.1: the
 * report counts the key), as the writer counts the small keys it then writes natively.
 */
function wholeCopyPath(ctx: RunContext, src: SourceRun, step: Step): 'stream' | 'fallback' | 'windows' {
  const { action } = step.decision;
  const { payloadMaxBytes, mode } = ctx.plan.write;
  if ((action !== 'create' && action !== 'override') || payloadMaxBytes === 0 || sharesName(ctx, step))
    return 'windows';
  if (src.reader.bigPayload === undefined || ctx.targetPipe.serverOf === undefined) return 'windows';
  if (dumpPath(ctx, src)) return 'stream';
  return mode === 'native' ? 'windows' : 'fallback';
}

function streamBig(ctx: RunContext, src: SourceRun, step: Step): Promise<BigKeyResult | ToWindows> {
  return streamBigKey(
    {
      payload: (key) => src.reader.bigPayload?.(key, step.probe.memory ?? 0),
      target: ctx.targetPipe,
      maxBytes: Math.min(ctx.plan.write.payloadMaxBytes, ctx.targetCaps.protoMaxBulkLen),
      clock: ctx.clock,
      signal: ctx.state.userStop,
      door: openDoor(ctx.backup, src.index),
    },
    {
      name: step.name,
      type: step.type as NativeType,
      sourceKey: step.probe.sourceKey,
      action: step.decision.action as 'create' | 'override',
      expectedBytes: step.probe.memory ?? 0,
    },
  );
}

/** Window by window (SPEC §2.3). `priorKept`: the journal holds the key's prior state already. */
async function copyWindows(
  ctx: RunContext,
  src: SourceRun,
  step: Step,
  again: ProbeUnit[],
  priorKept: boolean,
): Promise<void> {
  // A window read on a connection that was re-established may come from a restarted server, where
  // the HSCAN/SSCAN/ZSCAN cursor means nothing and windows would be skipped: the copy is abandoned
  // (create and override leave the target key as it was) and the key fails with that reason. The
  // windows are read through the source's pipe, so its reconnections tell; on a cluster they count
  // every master's, and any of them abandons the copy (the safe side: the key is run again).
  const epoch = src.pipe.reconnects;
  const lost = (): boolean => src.pipe.reconnects !== epoch;
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
      priorKept,
    },
  ).catch(failWith(ctx, src, step));
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
  } else settle(ctx, src, step, result, again);
}

/** Counts a big key's result; one whose source changed under it is decided again. */
function settle(ctx: RunContext, src: SourceRun, step: Step, result: BigKeyResult, again: ProbeUnit[]): void {
  if (result === 'written') record(ctx, step, step.decision);
  else if (result === 'expired' || result === 'gone') record(ctx, step, EXPIRED);
  else if (result === 'changed') again.push(retryUnit(src, step));
}

/** A big key's copy that failed: the key fails with the reason where it can, else the error stops the run. */
function failWith(ctx: RunContext, src: SourceRun, step: Step): (err: unknown) => 'failed' {
  return (err) => {
    const reason = failureOf(err, step);
    if (reason === undefined) throw err;
    failStep(ctx, src, step, reason);
    return 'failed';
  };
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
