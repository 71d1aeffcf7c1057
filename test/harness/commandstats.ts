/**
 * What a server ran, from INFO commandstats: how a test tells the path a run took (windows or one
 * payload, RENAME or RESTORE) without watching every command.
 *
 * Example:
 *   await t.config('RESETSTAT');
 *   … run …
 *   expect(await commandCalls(t, ['restore', 'rename'])).toEqual({ restore: 1, rename: 0 });
 */
import type { Redis } from 'ioredis';

/** How many times each of `commands` ran on the server since its last CONFIG RESETSTAT. */
export async function commandCalls(client: Redis, commands: string[]): Promise<Record<string, number>> {
  const info = await client.info('commandstats');
  return Object.fromEntries(
    commands.map((c) => [c, Number(new RegExp(`^cmdstat_${c}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0)]),
  );
}
