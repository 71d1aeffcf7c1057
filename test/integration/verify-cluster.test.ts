/**
 * verify with a Redis Cluster (SPEC §6.5, §7) as source and as target: after a real run it finds
 * nothing (every master of the cluster walked, every key read on its own node), values read whole
 * and in windows (every key counted big); a key changed afterwards on the target is named.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MergePlan, resolvePlan, runMerge, verify } from '../../src/index.js';
import { slotOf, startCluster, type TestCluster } from '../harness/cluster.js';
import { hash, list, seed, set, str, stream, type Value, zset } from '../harness/data.js';
import { type RedisServer, startRedis } from '../harness/redis.js';

/** Keys of every type spread over the slots (and so over the three masters), some awkward for slots. */
function data(tag: string): [string, Value][] {
  const out: [string, Value][] = [];
  for (let i = 0; i < 60; i++) {
    const key = i % 10 === 0 ? `{}a}${i}` : i % 10 === 1 ? `{user}${i}` : `k:${i}`;
    const kinds: Value[] = [
      str(`${tag}-${i}`),
      hash({ shared: tag, [tag]: `${i}` }),
      set('shared', `${tag}-${i}`),
      zset(['shared', i], [tag, 1]),
      list(`${tag}-a`, `${tag}-b`),
      stream([`${i + 1}-1`, ['f', tag]]),
    ];
    out.push([key, kinds[i % kinds.length]!]);
  }
  return out;
}

function plan(source: string, target: string, prefix: string, bigKeyBytes?: number): MergePlan {
  return resolvePlan(
    {
      version: 1,
      sources: [{ url: source, name: 'src', prefix }],
      target: { url: target },
      strategies: { default: 'merge', string: 'override', stream: 'override' },
      typeMismatch: 'override',
      write: { batchSize: 16, ...(bigKeyBytes ? { bigKeyBytes } : {}) },
    },
    {},
    {},
  );
}

describe('verify with a Redis Cluster', () => {
  let cluster: TestCluster;
  let standalone: RedisServer;
  let c: Redis;
  let r: Redis;

  beforeAll(async () => {
    [cluster, standalone] = await Promise.all([startCluster(3), startRedis()]);
    c = cluster.client() as unknown as Redis;
    r = standalone.client();
  }, 60_000);
  afterAll(async () => {
    r?.disconnect();
    await Promise.all([cluster?.stop(), standalone?.stop()]);
  });
  beforeEach(async () => {
    await Promise.all([cluster.flushall(), r.flushall()]);
  });

  it('cluster → standalone with a prefix: equal after a run, whole and in windows; a tampered key named', async () => {
    await seed(c, data('src'));
    await seed(r, [['p:k:3', zset(['own', 5])]]);
    const p = plan(cluster.url, standalone.url, 'p:');
    expect((await runMerge(p)).outcome).toBe('done');
    for (const bigKeyBytes of [undefined, 1]) {
      const report = await verify(plan(cluster.url, standalone.url, 'p:', bigKeyBytes));
      expect(report.listed).toEqual([]);
      expect(report.checked).toBe(60);
    }
    await r.hset('p:k:7', 'src', 'tampered');
    await r.del('p:{}a}20');
    for (const bigKeyBytes of [undefined, 1]) {
      const report = await verify(plan(cluster.url, standalone.url, 'p:', bigKeyBytes));
      expect(report.listed.map((d) => d.key).sort()).toEqual(['p:k:7', 'p:{}a}20']);
      expect(report.listed.find((d) => d.key === 'p:k:7')!.found).toContain('"src": "tampered"');
    }
  });

  it('standalone → cluster with a prefix: equal after a run, whole and in windows; a tampered key named', async () => {
    await seed(r, data('src'));
    await seed(c, [['q:k:3', zset(['own', 5])]]);
    const p = plan(standalone.url, cluster.url, 'q:');
    expect((await runMerge(p)).outcome).toBe('done');
    // The keys landed on every master: verify reads each on its own node.
    const masters = new Set(data('src').map(([k]) => Math.floor(slotOf(`q:${k}`) / 5462)));
    expect(masters.size).toBe(3);
    for (const bigKeyBytes of [undefined, 1]) {
      const report = await verify(plan(standalone.url, cluster.url, 'q:', bigKeyBytes));
      expect(report.listed).toEqual([]);
      expect(report.checked).toBe(60);
    }
    await c.lset('q:k:4', 1, 'tampered');
    await c.zadd('q:k:3', 99, 'own');
    for (const bigKeyBytes of [undefined, 1]) {
      const report = await verify(plan(standalone.url, cluster.url, 'q:', bigKeyBytes));
      // The zset's own member is not the run's business without the journal: only the list differs.
      expect(report.listed.map((d) => d.key)).toEqual(['q:k:4']);
      expect(report.listed[0]!.found).toContain('"tampered"');
    }
  });
});
