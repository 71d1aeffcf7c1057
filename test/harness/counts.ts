import type { Counts } from '../../src/report/counters.js';
import { emptyCounts } from '../../src/report/counters.js';

/** The counters of SPEC §5.3, zero where not given; `scanned` is the sum of the outcomes unless given. */
export function counts(partial: Partial<Counts>): Counts {
  const c: Counts = { ...emptyCounts(), ...partial };
  if (partial.scanned === undefined) {
    c.scanned = c.created + c.overridden + c.merged + c.skipped + c.expired + c.failed;
  }
  return c;
}
