import type { Caps } from './caps.js';

/** Our monotonic clock (performance.now() ms): every deadline of a run is on it. */
export const now = (): number => performance.now();

/**
 * The target's clock as seen from ours. Lifetimes are sent as absolute times on the target's clock
 * when it is known (PEXPIREAT, SET PXAT, RESTORE ABSTTL), so time a write spends queued or in flight
 * cannot lengthen them (SPEC §1.5); a relative TTL would start counting only when the target runs it.
 * `offset` added to one of our deadlines gives the target's Unix time in ms; null: unknown (TIME was
 * refused) or not to be trusted (Pika 4.0 destroys a key given a millisecond PEXPIREAT), lifetimes
 * go relative, computed at send time. `setPxat`: the target's SET takes PXAT (Redis 6.2 and later).
 * `granularityMs`: the target keeps whole seconds (Pika 3.x, 1000) or milliseconds (1).
 */
export interface TargetClock {
  offset: number | null;
  setPxat: boolean;
  granularityMs: number;
}

export const RELATIVE_CLOCK: TargetClock = { offset: null, setPxat: false, granularityMs: 1 };

/**
 * Measures the target's clock with TIME. The target read its clock somewhere between our send and
 * our receipt; taking the receipt as that moment gives the smallest possible offset, so converted
 * lifetimes err short, never long.
 */
export async function measureClock(
  time: () => Promise<(string | number)[]>,
  caps: Pick<Caps, 'absoluteExpiry' | 'setPxat' | 'ttlGranularityMs'>,
): Promise<TargetClock> {
  const relative: TargetClock = { offset: null, setPxat: false, granularityMs: caps.ttlGranularityMs };
  if (!caps.absoluteExpiry) return relative;
  try {
    const [seconds, micros] = await time();
    const received = now();
    return {
      offset: Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - received,
      setPxat: caps.setPxat,
      granularityMs: caps.ttlGranularityMs,
    };
  } catch {
    return relative;
  }
}
