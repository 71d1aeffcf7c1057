import { now, RELATIVE_CLOCK, type TargetClock } from '../servers/clock.js';
import type { Command } from '../servers/resp.js';
import type { MergeOptions } from '../types/strategy.js';

/**
 * A key's end of life on our monotonic clock (performance.now() ms), or null for no expiry.
 * Deadlines are taken as "time the read was sent + PTTL", never later than the real one, so time
 * in flight shortens a lifetime and a slow run never lengthens it (SPEC §1.5).
 */
export type Deadline = number | null;

export function deadlineFrom(pttl: number, sentAt: number): Deadline | 'gone' {
  if (pttl === -2) return 'gone';
  if (pttl < 0) return null;
  return sentAt + pttl;
}

/**
 * A relative TTL as the target will keep it. A server of whole seconds (Pika 3.x) rounds a
 * millisecond TTL down, and 999 ms to 0, which deletes the key: rounding up to the next second
 * instead lengthens a lifetime by less than the server's own rounding and never loses the key.
 */
export function relativeTtl(ms: number, clock: TargetClock): number {
  const positive = Math.max(1, Math.floor(ms));
  const step = clock.granularityMs;
  return step > 1 ? Math.ceil(positive / step) * step : positive;
}

/** The command that makes `key` end at `deadline` (one of our deadlines). */
export function expireCommand(key: Buffer, deadline: number, clock: TargetClock, at = now()): Command {
  if (clock.offset === null) return ['PEXPIRE', key, relativeTtl(deadline - at, clock)];
  return ['PEXPIREAT', key, Math.floor(deadline + clock.offset)];
}

/**
 * The commands that give hash fields their own end of life (one of our deadlines each): HPEXPIREAT on
 * the target's clock where it is known, else HPEXPIRE computed now; fields ending together share one.
 */
export function fieldExpiryCommands(
  key: Buffer,
  fields: readonly [Buffer, number][],
  clock: TargetClock,
  at = now(),
): Command[] {
  const byTime = new Map<number, Buffer[]>();
  for (const [field, deadline] of fields) {
    const time =
      clock.offset === null ? relativeTtl(deadline - at, clock) : Math.floor(deadline + clock.offset);
    byTime.set(time, [...(byTime.get(time) ?? []), field]);
  }
  const name = clock.offset === null ? 'HPEXPIRE' : 'HPEXPIREAT';
  return [...byTime].map(([time, named]): Command => [name, key, time, 'FIELDS', named.length, ...named]);
}

/**
 * RESTORE's TTL argument for a value that ends at `deadline`: the target's Unix time in ms, with
 * ABSTTL, where its clock is known; else the ms left (0: no expiry).
 */
export function restoreTtl(deadline: Deadline, clock: TargetClock, at = now()): number {
  if (restoresAbsolute(deadline, clock)) return Math.floor(deadline! + clock.offset!);
  // Never 0 for a value that ends: RESTORE takes 0 as "no expiry".
  return deadline === null ? 0 : Math.max(1, remaining(deadline, at)!);
}

/** Whether restoreTtl() gave a Unix time (RESTORE … ABSTTL). Two numbers, not a pair per key: the hot path. */
export function restoresAbsolute(deadline: Deadline, clock: TargetClock): boolean {
  return deadline !== null && clock.offset !== null;
}

/** Milliseconds left until `deadline` (null: no expiry); 0 or less means it is already over. */
export function remaining(deadline: Deadline, at = now()): number | null {
  return deadline === null ? null : Math.floor(deadline - at);
}

/**
 * The command that gives a merged key its lifetime under `merge.ttl` (SPEC §1.5), or none when
 * the target's own lifetime is already the answer (merge writes keep the target's TTL).
 */
export function mergeTtlCommand(
  key: Buffer,
  rule: MergeOptions['ttl'],
  source: Deadline,
  target: Deadline,
  at = now(),
  clock: TargetClock = RELATIVE_CLOCK,
): Command | null {
  const wanted = mergedDeadline(rule, source, target);
  if (wanted === target) return null;
  if (wanted === null) return ['PERSIST', key];
  return expireCommand(key, wanted, clock, at);
}

/** The lifetime a merged key should end up with under `merge.ttl`. */
export function mergedDeadline(rule: MergeOptions['ttl'], source: Deadline, target: Deadline): Deadline {
  switch (rule) {
    case 'target':
      return target;
    case 'source':
      return source;
    case 'max': // no expiry counts as the longest lifetime
      return source === null || target === null ? null : Math.max(source, target);
    case 'min':
      return source === null ? target : target === null ? source : Math.min(source, target);
  }
}
