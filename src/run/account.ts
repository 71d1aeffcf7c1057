import type { Decision } from '../types/strategy.js';
import { failedFrom, type RunContext, type SourceRun } from './context.js';
import type { Step } from './decide.js';

/** Every step ends in exactly one counter (DESIGN.md "account"): these are the ways it gets there. */

export const EXPIRED: Decision = { action: 'expired', conflict: false, typeMismatch: false };

/** Counts the step with this decision. */
export function record(ctx: RunContext, step: Step, decision: Decision): void {
  ctx.tally.record({
    sourceIndex: step.source,
    key: step.name,
    type: step.type,
    targetType: step.targetType,
    decision,
    sourceOverlap: step.overlap,
  });
}

/** Counts the step as failed and lists it (SPEC §6.4); `--on-error stop` stops the run there. */
export function failStep(ctx: RunContext, src: SourceRun, step: Step, reason: string): void {
  record(ctx, step, { ...step.decision, action: 'fail' });
  ctx.state.keyFailed(failedFrom(src), step.name, step.type, reason);
}

/** Counts a key written natively although the mode wants DUMP, naming it in the report's sample (SPEC §5.3). */
export function fellBack(ctx: RunContext, step: Step, reason: string): void {
  ctx.tally.fallback(reason, 1, { key: step.name, sourceIndex: step.source });
  ctx.events.emit({ kind: 'fallback', source: ctx.plan.sources[step.source]!.name, reason });
}
