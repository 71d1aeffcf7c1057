/**
 * verify on big keys (SPEC §2.3, §8): a 200,000-field hash and a 200,000-element list, created and
 * merged by a real run, verify equal while compared in windows; one tampered field and one tampered
 * element are named. The windows are checked with MONITOR: no whole read (HGETALL, LRANGE 0 -1) of
 * a big key reaches any server.
 */

import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { openJournal, openWindows, verify } from '../../src/index.js';
import type { MergeConfig } from '../harness/merge-servers.js';
import { useServers } from '../harness/merge-servers.js';
import { monitor } from '../harness/monitor.js';
import { fresh } from '../harness/scratch.js';

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

    const monitors = await Promise.all([servers.target, ...servers.sources].map(monitor));
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

    const seen = (await Promise.all(monitors.map((m) => m.settle())))
      .flat()
      .map((args) => args.slice(0, 4).join(' ').toLowerCase());
    for (const m of monitors) m.close();
    expect(seen.filter((a) => a.startsWith('hgetall') || /^lrange \S+ 0 -1/.test(a))).toEqual([]);
    expect(seen.some((a) => a.startsWith('hscan hm'))).toBe(true);
  }, 240_000);

  it("with the journal, a big target key's prior (journaled in windows) is folded exactly: a tamper of the target's own part is named", async () => {
    const M = 6_000;
    const range = (p: string): string[] => Array.from({ length: M }, (_, i) => `${p}${i}`);
    const [s] = servers.s as [Redis];
    await servers.t.hset('bh', ...range('f').flatMap((f) => [f, 't']));
    await s.hset('bh', ...range('g').flatMap((f) => [f, 's']), 'f0', 's');
    await servers.t.sadd('bs', ...range('t'));
    await s.sadd('bs', ...range('s'));
    await servers.t.zadd('bz', ...range('m').flatMap((m, i) => [i, m]));
    await s.zadd('bz', 100, 'm5', ...range('n').flatMap((m, i) => [i, m]));
    await servers.t.rpush('bl', ...range('t'));
    await s.rpush('bl', ...range('a'));
    await servers.t.set('bstr', 'y'.repeat(3_000_000));
    await s.set('bstr', 'x'.repeat(2_500_000));
    await servers.t.pexpire('bh', 600_000);
    const config: MergeConfig = {
      strategies: { default: 'merge', string: 'override', stream: 'override' },
      merge: { hashField: 'source', zsetScore: 'sum', list: 'append' },
      write: { bigKeyElements: 1_000, bigKeyBytes: 100_000 },
    };
    const backup = fresh('run.journal');
    expect((await servers.merge(config, { backup })).outcome).toBe('done');
    const kinds = new Set<string>();
    for await (const { prior } of (await openJournal(backup)).firstPriors()) kinds.add(prior.kind);
    expect([...kinds]).toEqual(['windows']);

    const plan = servers.plan(config);
    const check = async () => {
      const windows = await openWindows(backup);
      try {
        return await verify(plan, {
          priors: (await openJournal(backup)).firstPriors(),
          windows: windows.read,
        });
      } finally {
        await windows.close();
      }
    };
    expect(await check()).toMatchObject({ checked: 5, exact: 5, priorsUnused: [], differences: 0 });
    // A tamper of what only the prior held, which without the journal no check can tell; the string,
    // overridden, is compared with the source's whatever its prior.
    const tampers: [string, () => Promise<unknown>, RegExp, boolean][] = [
      ['bh', () => servers.t.hset('bh', 'f4000', 'X'), /"f4000": "t"/, false],
      ['bh', () => servers.t.hset('bh', 'zzz', 'X'), /hash of 12000 fields/, false],
      ['bs', () => servers.t.srem('bs', 't3000'), /member "t3000"/, false],
      ['bz', () => servers.t.zadd('bz', 7_777, 'm5'), /"m5": 105/, false],
      ['bl', () => servers.t.lset('bl', 10, 'X'), /"t10" at \[10\]/, false],
      ['bstr', () => servers.t.setrange('bstr', 1_500_000, 'z'), /"x+"…\(\d+ bytes\) at byte 1500000,/, true],
      // Small now, on every side but the prior: still compared with the prior walked in the journal.
      ['bs', () => servers.t.multi().del('bs').sadd('bs', 's1').exec(), /member "t\d+"/, true],
    ];
    for (const [key, tamper, expected, loose] of tampers) {
      const before = (await servers.t.dumpBuffer(key))!;
      const ttl = await servers.t.pttl(key);
      await tamper();
      expect((await verify(plan)).differences, `${key}: without the journal`).toBe(loose ? 1 : 0);
      const report = await check();
      expect(report.listed.map((d) => d.key)).toEqual([key]);
      expect(report.listed[0]!.expected).toMatch(expected);
      await servers.t.restore(key, Math.max(ttl, 0), before, 'REPLACE');
    }
  }, 120_000);
});
