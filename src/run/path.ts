import { describeKey } from '../report/key-name.js';
import { surelySmallBelow } from '../write/big-threshold.js';
import { fellBack, record } from './account.js';
import { failedFrom, type RunContext, type SourceRun } from './context.js';
import type { Step } from './decide.js';

/**
 * The dump/native choice (SPEC §2.1): a copy takes the dump path (DUMP → RESTORE) while the mode allows
 * it, the target takes RESTORE and the source gives DUMP; either refusal turns it off for the rest of
 * the run (the target's) or of the source (the source's), each key then counted as a fallback.
 */
export function dumpPath(ctx: RunContext, src: SourceRun): boolean {
  return ctx.plan.write.mode !== 'native' && ctx.state.targetRestores && src.reads.dumps;
}

/**
 * Below how many bytes (MEMORY USAGE) the probe reads a value's payload along with its type, so that a
 * copy needs no read of its own: where the dump path is taken, the size that sizeUp clears without
 * counting elements (a larger value may be a big key, to be copied in windows). 0 where nothing is
 * written (a dry run) or written natively.
 */
export function prefetchBelow(ctx: RunContext, src: SourceRun): number {
  if (ctx.plan.dryRun || !dumpPath(ctx, src)) return 0;
  return surelySmallBelow(ctx.plan.write);
}

/** The target refused RESTORE for good: every later copy is written natively. */
export function targetRefusesRestore(ctx: RunContext, reason: string): void {
  if (!ctx.state.targetRestores) return;
  ctx.state.targetRestores = false;
  ctx.state.nativeReason = reason;
  ctx.log(`${reason}: writing natively from now on`);
}

/** The source refused DUMP: its values are read natively from now on. */
export function sourceRefusesDump(ctx: RunContext, src: SourceRun, message: string): void {
  if (src.reads.dumps) ctx.log(`source ${src.plan.name} refuses DUMP (${message}); reading natively`);
  src.reads.dumps = false;
  src.reads.nativeReason = 'source refuses DUMP';
}

/** A copy that wants the dump path but goes native: counted as a fallback, with the reason. */
export function nativeFallback(ctx: RunContext, src: SourceRun, step: Step): void {
  fellBack(ctx, step, ctx.state.nativeReason ?? src.reads.nativeReason ?? 'native path');
}

/** A module type with no DUMP/RESTORE path: counted as failed under `other`, never dropped silently (SPEC §1.3). */
export function unsupported(ctx: RunContext, src: SourceRun, step: Step): void {
  record(ctx, step, { ...step.decision, action: 'fail' });
  fellBack(ctx, step, 'module type not copyable without DUMP/RESTORE');
  ctx.state.keyFailed(failedFrom(src), step.name, step.type, 'a module type needs DUMP/RESTORE');
  ctx.log(`cannot copy ${describeKey(step.name)} from ${src.plan.name}: a module type needs DUMP/RESTORE`);
}
