/**
 * The backup journal with a Redis Cluster target (SPEC §6.2, §6.3, §7): a real 3-master cluster
 * (test/harness/cluster.ts). A merge with --backup rolled back leaves every master as it was (DEBUG
 * DIGEST of each), and a run killed with -9 then resumed leaves the cluster as an uninterrupted run
 * does, with list append and zset sum (a second application would show) and big keys built under a
 * temporary key in the key's slot.
 */
import { stat, writeFile } from 'node:fs/promises';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolvePlan, rollback, runMerge } from '../../src/index.js';
import { readRecords } from '../../src/journal/reader.js';
import { kvmerge } from '../harness/cli-run.js';
import { startCluster, type TestCluster } from '../harness/cluster.js';
import { expiring, hash, type Layout, list, seedAll, set, str, stream, zset } from '../harness/data.js';
import { forgetApplied } from '../harness/journal-edit.js';
import { overlapping } from '../harness/layouts.js';
import { digest, type RedisServer, startRedis } from '../harness/redis.js';
import { fresh } from '../harness/scratch.js';

const CONFIG = {
  strategies: {
    string: 'override',
    hash: 'override',
    set: 'merge',
    zset: 'merge',
    list: 'merge',
    stream: 'override',
  },
  merge: { list: 'append', zsetScore: 'sum' },
};

describe('backup journal, rollback and resume with a Redis Cluster target', () => {
  let cluster: TestCluster;
  let a: RedisServer;
  let b: RedisServer;
  let ct: Cluster;
  let ca: Redis;
  let cb: Redis;

  beforeAll(async () => {
    [cluster, a, b] = await Promise.all([startCluster(3), startRedis(), startRedis()]);
    [ct, ca, cb] = [cluster.client(), a.client(), b.client()];
  }, 60_000);

  afterAll(async () => {
    await Promise.all([cluster?.stop(), a?.stop(), b?.stop()]);
  });

  beforeEach(async () => {
    await Promise.all([cluster.flushall(), ca.flushall(), cb.flushall()]);
    for (const node of cluster.nodes) {
      const client = node.client();
      await client.config('RESETSTAT');
      client.disconnect();
    }
  });

  /** DEBUG DIGEST of every master, in order: the whole cluster's data, TTLs included. */
  const digests = (): Promise<string[]> => Promise.all(cluster.nodes.map((node) => digest(node)));

  const doc = (write: Record<string, unknown> = {}) => ({
    version: 1,
    sources: [
      { name: 's1', url: a.url },
      { name: 's2', url: b.url },
    ],
    target: { url: cluster.url },
    ...CONFIG,
    write: { batchSize: 25, concurrency: 2, bigKeyElements: 50, bigKeyBytes: 4096, ...write },
  });

  /** Every type on the target (some with TTLs), overlapping the sources; big keys on both sides. */
  const EVERY_TYPE: Layout = {
    target: {
      s: str('target'),
      h: expiring(500_000, hash({ a: 't', only: 't' })),
      st: set('x', 'y'),
      z: zset(['m', 1], ['n', 2]),
      l: expiring(900_000, list('t1', 't2')),
      x: stream(['1-1', ['f', 'target']]),
      untouched: str('stays'),
      big: hash(Array.from({ length: 300 }, (_, i): [string, string] => [`f${i}`, 't'])),
      bigz: expiring(800_000, zset(...Array.from({ length: 200 }, (_, i): [string, number] => [`m${i}`, i]))),
      // Elements of 20 bytes: big by MEMORY USAGE too (tiny ones pack under 16 bytes each).
      bigl: list(...Array.from({ length: 120 }, (_, i) => `t${i}`.padEnd(20, '.'))),
    },
    sources: [
      {
        s: expiring(700_000, str('s1')),
        h: hash({ a: 's1', b: 's1' }),
        st: set('y', 'z'),
        z: zset(['m', 5], ['o', 1]),
        l: list('a', 'b'),
        x: stream(['2-1', ['f', 's1']]),
        new1: hash({ k: 'v' }),
        new2: list('p', 'q'),
        big: hash(Array.from({ length: 500 }, (_, i): [string, string] => [`f${i}`, 's'])),
        bigz: zset(...Array.from({ length: 300 }, (_, i): [string, number] => [`m${i}`, 1])),
        bigl: list(...Array.from({ length: 200 }, (_, i) => `a${i}`)),
      },
      {
        z: zset(['m', 1]),
        l: list('c'),
        new3: zset(['a', 1]),
        new1: hash({ k2: 'v2' }),
        bigz: zset(...Array.from({ length: 100 }, (_, i): [string, number] => [`m${i}`, 2])),
      },
    ],
  };

  async function tempKeysLeft(): Promise<string[]> {
    const left: string[] = [];
    for (const node of cluster.nodes) {
      const client = node.client();
      left.push(...(await client.keys('kvmerge-tmp:*')));
      client.disconnect();
    }
    return left;
  }

  for (const mode of ['dump', 'native'] as const) {
    it(`a ${mode}-mode merge with --backup into a cluster, rolled back, leaves every master as it was`, async () => {
      await seedAll({ t: ct, s: [ca, cb] }, EVERY_TYPE);
      const before = await digests();
      const backup = fresh('rollback.journal');
      const report = await runMerge(resolvePlan(doc({ mode }), { backup }, {}));
      expect(report.outcome, report.error).toBe('done');
      expect(await ct.hget('big', 'f400')).toBe('s');
      expect(await ct.zscore('bigz', 'm0')).toBe('3');
      expect(await ct.llen('bigl')).toBe(320);
      expect(await digests()).not.toEqual(before);

      // The big keys' prior states (over bigKeyElements: 50) are windows, not DUMP payloads.
      const kinds: Record<string, string> = {};
      for await (const record of readRecords(backup)) {
        if (record.kind === 'before') kinds[record.key.toString()] ??= record.prior.kind;
      }
      expect([kinds.big, kinds.bigz, kinds.bigl, kinds.h]).toEqual(['windows', 'windows', 'windows', 'dump']);

      // Every prior read went to the master of its key's slot: no MOVED on the way.
      expect(await cluster.errorCount('MOVED')).toBe(0);

      const undone = await rollback({ backup, target: cluster.url });
      // s h st z l x big bigz bigl restored; new1 new2 new3 deleted.
      expect(undone).toMatchObject({ keys: 12, restored: 9, deleted: 3, outcome: 'done' });
      expect(undone.tempKeys).toBeGreaterThanOrEqual(2);
      expect(await digests()).toEqual(before);
      expect(await tempKeysLeft()).toEqual([]);
      const pttl = await ct.pttl('h');
      expect(pttl).toBeGreaterThan(400_000);
      expect(pttl).toBeLessThanOrEqual(500_000);
      await rollback({ backup, target: cluster.url });
      expect(await digests()).toEqual(before);
    });
  }

  const KEYS = 1200;

  /** Lists and zsets on every master of the target and in both sources (append and sum double when applied twice). */
  const MANY = overlapping(KEYS, 400, 200);

  it('kill -9 mid-run into a cluster, or lost applied marks, then --resume: every master equals an uninterrupted run', async () => {
    const cfg = fresh('merge.yaml');
    await writeFile(cfg, JSON.stringify(doc()));
    await seedAll({ t: ct, s: [ca, cb] }, MANY);
    const refJournal = fresh('reference.journal');
    const ref = await kvmerge(['-c', cfg, '--backup', refJournal, '--quiet']);
    expect(ref.code, ref.stderr).toBe(0);
    const after = await digests();
    const refBytes = (await stat(refJournal)).size;

    // A crash that lost every `applied` mark of the second source (every master holds its writes, the
    // journal knows none of them): each step is put back on its master and applied again, once.
    const crashed = fresh('lost-marks.journal');
    await forgetApplied(refJournal, crashed, [1]);
    const again = await kvmerge(['-c', cfg, '--backup', crashed, '--resume', '--no-progress']);
    expect(again.code, again.stderr).toBe(0);
    const putBack = /1 source\(s\) finished, 0 key\(s\) of the next already applied, (\d+) key\(s\)/.exec(
      again.stderr,
    );
    expect(Number(putBack?.[1])).toBeGreaterThan(KEYS);
    expect(await digests()).toEqual(after);
    expect(await tempKeysLeft()).toEqual([]);

    for (const fraction of [0.2, 0.6]) {
      await Promise.all([cluster.flushall(), ca.flushall(), cb.flushall()]);
      await seedAll({ t: ct, s: [ca, cb] }, MANY);
      const seeded = await digests();
      const journal = fresh('killed.journal');
      const killed = await kvmerge(['-c', cfg, '--backup', journal, '--quiet'], {
        journal,
        bytes: Math.floor(refBytes * fraction),
        signal: 'SIGKILL',
      });
      expect(killed.signal, `killed at ${fraction}`).toBe('SIGKILL');
      expect(await digests()).not.toEqual(after);
      const resumed = await kvmerge(['-c', cfg, '--backup', journal, '--resume', '--no-progress']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/resuming .*killed\.journal/);
      expect(await digests(), `killed at ${fraction}`).toEqual(after);
      expect(await tempKeysLeft()).toEqual([]);
      // The interrupted and the resumed run's journal together roll the cluster back to the seed.
      const undo = await kvmerge(['rollback', '--backup', journal, '-t', cluster.url, '--quiet']);
      expect(undo.code, undo.stderr).toBe(0);
      expect(await digests()).toEqual(seeded);
    }
  }, 180_000);
});
