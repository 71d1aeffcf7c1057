/**
 * What the live-merge tests share: waiting for a condition while a follow runs, and the check every
 * one of them ends with (verify with the run's journal: SPEC §9.1, the target is the fold).
 */
import { expect } from 'vitest';
import { type MergePlan, openJournal, openWindows, verify } from '../../src/index.js';

/** redis-server arguments for a source a follow can hear (SPEC §9.2). */
export const NOTIFY = { args: ['--notify-keyspace-events', 'KEA'] };

/**
 * Resolves once `check` holds, polling every 50 ms; throws after `ms`. A check that throws counts as
 * not yet (a server switching roles may refuse a command for a moment).
 */
export async function until(
  check: () => Promise<boolean> | boolean,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not yet.
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** verify with the journal at `backup` finds no difference. */
export async function verifyEqual(plan: MergePlan, backup: string): Promise<void> {
  const windows = await openWindows(backup);
  try {
    const check = await verify(plan, {
      priors: (await openJournal(backup)).firstPriors(),
      windows: windows.read,
    });
    expect(check.listed).toEqual([]);
    expect(check.outcome).toBe('equal');
  } finally {
    await windows.close();
  }
}
