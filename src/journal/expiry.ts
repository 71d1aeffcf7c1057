import type { Caps } from '../servers/caps.js';
import { now, type TargetClock } from '../servers/clock.js';
import type { Command } from '../servers/resp.js';
import { relativeTtl } from '../write/ttl.js';

/** The target's clock, in Unix ms, at our `at` (performance.now() ms). */
export function targetTime(clock: TargetClock, at = now()): number {
  return clock.offset === null ? Date.now() - (now() - at) : Math.floor(at + clock.offset);
}

/** The command that gives `key` back its absolute expiry (relative where the target cannot take one). */
export function lifetimeOf(
  key: Buffer,
  expireAt: number,
  caps: Caps,
  clock: TargetClock,
  targetNow: number,
): Command {
  return clock.offset !== null && caps.absoluteExpiry
    ? ['PEXPIREAT', key, expireAt]
    : ['PEXPIRE', key, relativeTtl(expireAt - targetNow, clock)];
}
