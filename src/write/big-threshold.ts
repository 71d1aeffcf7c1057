import type { WritePlan } from '../config/plan.js';

/** MEMORY USAGE below this many bytes per allowed element cannot hide more than bigKeyElements elements. */
const MIN_BYTES_PER_ELEMENT = 16;

/**
 * Below how many bytes of MEMORY USAGE a value is surely not big (SPEC §2.3: over bigKeyElements
 * elements or bigKeyBytes bytes): over it, an element count tells. The writer, the journal and the
 * probe's prefetch share this one rule, so they agree on which keys are big.
 */
export function surelySmallBelow(limits: Pick<WritePlan, 'bigKeyBytes' | 'bigKeyElements'>): number {
  return Math.min(limits.bigKeyBytes, limits.bigKeyElements * MIN_BYTES_PER_ELEMENT);
}
