/**
 * verify on big keys (SPEC §2.3, §8): a 200,000-field hash and a 200,000-element list, created and
 * merged by a real run, verify equal while compared in windows; one tampered field and one tampered
 * element are named. The windows are checked with MONITOR: no whole read (HGETALL, LRANGE 0 -1) of
 * a big key reaches any server.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { verify } from '../../src/index.js';
import type { MergeConfig } from './helpers.js';
import { useServers } from './helpers.js';

const N = 200_000;
const CHUNK = 5_000;

async function bigHash(r: Redis, key: string, from: number, to: number, tag: string): Promise<void> {
  for (let i = from; i < to; i += CHUNK) {
    const args: string[] = [];
    for (let j = i; j < Math.min(to, i + CHUNK); j++) args.push(`f${j}`, `${tag}${j}`);
    await r.hset(key, ...args);
  }
}

async function bigList(r: Redis, key: string, count: number, tag: string): Promise<void> {
  for (let i = 0; i < count; i += CHUNK) {
    const args: string[] = [];
    for (let j = i; j < Math.min(count, i + CHUNK); j++) args.push(`${tag}${j}`);
    await r.rpush(key, ...args);
  }
}

describe('verify on big keys', () => {
  const servers = useServers(1);

  it(`a ${N}-field hash and a ${N}-element list, created and merged, verify equal in windows; a tampered field and element are named`, async () => {
    const [s] = servers.s as [Redis];
    await bigHash(s, 'hc', 0, N, 'v');
    await bigHash(s, 'hm', 0, N, 'v');
    await bigList(s, 'lc', N, 'e');
    await bigList(s, 'lm', N, 'e');
    // The merged keys: the target's own fields (some overwritten by the source) and elements.
    await bigHash(servers.t, 'hm', N - 500, N + 500, 'own');
    await bigList(servers.t, 'lm', 10, 'own');
    const config: MergeConfig = { strategies: { default: 'merge', string: 'override', stream: 'override' } };
    const run = await servers.merge(config);
    expect(run.outcome).toBe('done');
    expect(await servers.t.hlen('hm')).toBe(N + 500);

    const seen: string[] = [];
    const monitors = await Promise.all(
      [servers.target, ...servers.sources].map(async (server) => {
        const m = await server.client().monitor();
        m.on('monitor', (_time: string, args: string[]) =>
          seen.push(args.slice(0, 4).join(' ').toLowerCase()),
        );
        return m;
      }),
    );
    const plan = servers.plan(config);
    const clean = await verify(plan);
    expect(clean.listed).toEqual([]);
    expect(clean.checked).toBe(4);

    await servers.t.hset('hm', 'f123456', 'tampered');
    await servers.t.lset('lc', 150_001, 'tampered');
    const report = await verify(plan);
    const byKey = [...report.listed].sort((x, y) => x.key!.localeCompare(y.key!));
    expect(byKey).toEqual([
      {
        key: 'hm',
        expected: 'a hash that contains "f123456": "v123456", no TTL',
        found: `hash of ${N + 500} fields, "f123456": "tampered", no TTL`,
      },
      {
        key: 'lc',
        // Without the journal the created list may have been appended to an unknown prior: it must end so.
        expected: `a list that ends with the sources' elements: "e150001" at [150001], no TTL`,
        found: `list of ${N} elements, "tampered" at [150001], no TTL`,
      },
    ]);

    await Promise.all([servers.t, ...servers.s].map((c) => c.echo('verify-done')));
    await expect.poll(() => seen.filter((a) => a.startsWith('echo')).length).toBe(2);
    for (const m of monitors) m.disconnect();
    expect(seen.filter((a) => a.startsWith('hgetall') || /^lrange \S+ 0 -1/.test(a))).toEqual([]);
    expect(seen.some((a) => a.startsWith('hscan hm'))).toBe(true);
  }, 240_000);
});
