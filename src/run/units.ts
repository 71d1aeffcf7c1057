import type { ProbeUnit } from '../probe/probe.js';
import type { RunContext, SourceRun } from './context.js';
import type { Step } from './decide.js';

/** The unit to decide again: on a source of one type per name, the key (its type may have changed). */
export function retryUnit(src: SourceRun, step: Step): ProbeUnit {
  return src.caps.multiTypeNames
    ? { key: step.probe.sourceKey, type: step.type }
    : { key: step.probe.sourceKey };
}

/**
 * An override on a target where the name holds other types beside this one (Pika 3.x): DEL would
 * remove them too, so only this type is emptied.
 */
export function sharesName(ctx: RunContext, step: Step): boolean {
  return ctx.targetCaps.multiTypeNames && step.probe.targetTypes.some((t) => t !== step.type);
}
