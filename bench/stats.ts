import type { Redis } from 'ioredis';

/*
 * Where the time goes, as the servers see it: INFO commandstats is reset before a contender's timed
 * part and read right after it (before the bench's own checks), so it counts exactly the commands the
 * contender sent, and the microseconds the servers spent executing them.
 */

export interface CommandCount {
  calls: number;
  usec: number;
}

export type CommandStats = Map<string, CommandCount>;

/** Commands the bench itself sends around the timed part. */
const OWN = new Set(['info', 'config', 'ping', 'select', 'client', 'hello', 'quit', 'command', 'echo']);

export async function resetStats(clients: readonly Redis[]): Promise<void> {
  await Promise.all(clients.map((c) => c.config('RESETSTAT')));
}

/** The command counts of these servers, added up. */
export async function readStats(clients: readonly Redis[]): Promise<CommandStats> {
  const total: CommandStats = new Map();
  for (const info of await Promise.all(clients.map((c) => c.info('commandstats')))) {
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      const name = m[1]!;
      if (OWN.has(name.split('|')[0]!)) continue;
      const entry = total.get(name) ?? { calls: 0, usec: 0 };
      entry.calls += Number(m[2]);
      entry.usec += Number(m[3]);
      total.set(name, entry);
    }
  }
  return total;
}

/** The commands kvmerge's batch scripts call (probe/batch-scripts.ts). */
const SCRIPTABLE = new Set(['type', 'object|encoding', 'memory|usage', 'pttl', 'dump']);

/**
 * `sources: 3.00 calls/key (type 1.00 0.10 s, pttl 1.00 0.05 s, …), busy 1.20 s`: busy is the servers'
 * usec, each command once (the commands a script called are inside the script's time).
 */
export function describeStats(role: string, stats: CommandStats, keys: number): string {
  const entries = [...stats.entries()].sort((a, b) => b[1].calls - a[1].calls);
  const calls = entries.reduce((sum, [, c]) => sum + c.calls, 0);
  const perKey = (n: number): string =>
    n === 0 ? '0' : n / keys >= 1 ? (n / keys).toFixed(2) : (n / keys).toPrecision(2);
  const top = entries
    .slice(0, 8)
    .map(([name, c]) => `${name.replace('|', ' ')} ${perKey(c.calls)} ${(c.usec / 1e6).toFixed(2)} s`)
    .join(', ');
  // A command a script calls is counted on its own and inside the script's time too: busy leaves it out.
  const scripted = stats.has('eval') || stats.has('evalsha');
  const busy = scripted
    ? entries.filter(([name]) => name === 'eval' || name === 'evalsha' || !SCRIPTABLE.has(name))
    : entries;
  const busyUsec = busy.reduce((sum, [, c]) => sum + c.usec, 0);
  return `${role}: ${perKey(calls)} calls/key (${top || 'none'}), busy ${(busyUsec / 1e6).toFixed(2)} s`;
}

/** CPU seconds (user + system) each server's process has used so far (INFO cpu), in order. */
export async function serverCpuEach(clients: readonly Redis[]): Promise<number[]> {
  return (await Promise.all(clients.map((c) => c.info('cpu')))).map((info) => {
    const user = /^used_cpu_user:([\d.]+)/m.exec(info)?.[1];
    const system = /^used_cpu_sys:([\d.]+)/m.exec(info)?.[1];
    return Number(user ?? 0) + Number(system ?? 0);
  });
}
