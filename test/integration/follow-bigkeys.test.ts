import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMerge } from '../../src/index.js';
import { NOTIFY, until, verifyEqual } from '../harness/follow.js';
import { useServers } from '../harness/merge-servers.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerge-follow-big-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

describe('--follow folds big keys again in windows, under a temporary key renamed over the key', () => {
  const servers = useServers(2, { source: NOTIFY });

  it.each([
    ['append', 'sum'],
    ['union', 'max'],
  ])(
    'list %s, zset %s: big hashes, lists, sets, zsets and strings changed during the follow end exact',
    async (list, zsetScore) => {
      const backup = join(dir, `big-${list}.journal`);
      const [a, b] = servers.s as [typeof servers.t, typeof servers.t];
      // A big prior on the target: the fold starts from it (the journal keeps it in windows).
      await servers.t.hset('h', ...range(120, (i) => [`t${i}`, 'target']).flat());
      await servers.t.pexpire('h', 600_000);
      for (const [i, s] of [a, b].entries()) {
        await s.hset('h', ...range(150, (j) => [`f${j}`, `s${i}`]).flat());
        await s.rpush('l', ...range(150, (j) => `s${i}-${j}`));
        await s.sadd('st', ...range(150, (j) => `m${i * 100 + j}`));
        await s.zadd('z', ...range(150, (j) => [String(j + i), `m${j}`]).flat());
        await s.set('str', `s${i}`.repeat(200));
      }
      const plan = servers.plan(
        {
          strategies: { hash: 'merge', list: 'merge', set: 'merge', zset: 'merge', string: 'override' },
          merge: { list, zsetScore },
          write: { bigKeyElements: 50, bigKeyBytes: 256 },
        },
        { backup, follow: true },
      );
      const stop = new AbortController();
      const lines: string[] = [];
      const run = runMerge(plan, { signal: stop.signal, log: (l) => lines.push(l) });
      await until(async () => lines.some((l) => l.includes('caught up')), 30_000, 'the follow caught up');

      await a.hset('h', 'f1', 'changed', 'new', 'field');
      await b.hdel('h', 'f2');
      await a.rpush('l', 'late-a');
      await b.lrem('l', 1, 's1-3');
      await a.srem('st', 'm5');
      await b.sadd('st', 'late');
      await a.zincrby('z', 10, 'm7');
      await b.zrem('z', 'm8');
      await b.set('str', 'x'.repeat(300));
      await a.del('st');
      for (const [i, s] of [a, b].entries()) await s.set(`marker:${i}`, 'end');
      await until(async () => (await servers.t.exists('marker:0', 'marker:1')) === 2, 20_000, 'the markers');
      stop.abort();
      const report = await run;
      expect(lines.filter((l) => l.includes('not folded again'))).toEqual([]);
      expect(report.outcome).toBe('done');
      expect(report.follow?.failed).toBe(0);
      expect(await servers.t.hget('h', 'new')).toBe('field');
      expect(await servers.t.hget('h', 't0')).toBe('target');
      expect(await servers.t.sismember('st', 'm5')).toBe(0);
      // No temporary key outlives its fold.
      expect(await servers.t.keys('kvmerge-tmp:*')).toEqual([]);

      await verifyEqual(plan, backup);
    },
  );
});
