/**
 * Redis Cluster on every server build of test/harness/servers.ts (Redis 6.2, 7.4, 8.0, Valkey 8; the
 * other cluster tests run Debian's 7.0): CLUSTER SLOTS and CLUSTER NODES as each version writes them,
 * read by the scanner's layout check while a slot moves, and MOVED/ASK followed by the writer.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type JsonReport, resolvePlan, runMerge } from '../../src/index.js';
import type { ProgressSink } from '../../src/report/types.js';
import { slotOf, startCluster, type TestCluster } from '../harness/cluster.js';
import { loadCluster, readClusterStore, readStore } from '../harness/model-store.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { describeServer, REDIS_SERVERS } from '../harness/servers.js';
import { canonical, type Store } from '../property/model.js';

/** A merge (override) of `source` into `target`, a batch of 10 keys at a time; `act` at the first batch. */
async function runWhile(
  source: { url: string; prefix?: string },
  target: string,
  act: () => Promise<void>,
): Promise<JsonReport> {
  let acting: Promise<void> | undefined;
  const progress: ProgressSink = {
    sourceStarted() {},
    update() {
      acting ??= act();
    },
    sourceFinished() {},
    stop() {},
  };
  const plan = resolvePlan(
    {
      version: 1,
      sources: [{ name: 's1', ...source }],
      target: { url: target },
      strategies: { default: 'override' },
      write: { concurrency: 1, batchSize: 10, scanCount: 20 },
      dryRun: false,
    },
    {},
    {},
  );
  const report = await runMerge(plan, { progress });
  await acting;
  return report;
}

/** A hash tag whose slot master `owner` holds. */
async function tagOn(cluster: TestCluster, owner: number, prefix = ''): Promise<string> {
  for (let n = 0; ; n++) if ((await cluster.ownerOf(slotOf(`${prefix}{r${n}}`))) === owner) return `{r${n}}`;
}

for (const build of REDIS_SERVERS) {
  describeServer(build, `a Redis Cluster of ${build}`, () => {
    let cluster: TestCluster;
    let t: RedisServer;
    let ct: Redis;

    beforeAll(async () => {
      [cluster, t] = await Promise.all([startCluster(3, { server: build }), startRedis()]);
      ct = t.client();
    }, 60_000);

    afterAll(async () => {
      await Promise.all([cluster?.stop(), t?.stop()]);
    });

    it('as a source, a slot moving between two masters the first is not, slower than the walk: every key arrives', async () => {
      const tag = await tagOn(cluster, 1);
      const all: Store = new Map();
      for (let i = 0; i < 1000; i++) all.set(`${tag}:${i}`, { type: 'string', value: `v${i}`, ttl: 'none' });
      for (let i = 0; i < 100; i++) all.set(`k:${i}`, { type: 'list', value: [`a${i}`, 'b'], ttl: 'none' });
      await loadCluster(cluster, [...all]);
      const report = await runWhile({ url: cluster.url }, t.url, () =>
        cluster.migrateSlot(slotOf(tag), 2, undefined, { keys: 10, pauseMs: 20 }),
      );
      expect(await cluster.ownerOf(slotOf(tag))).toBe(2);
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals.created).toBe(all.size);
      expect(canonical(await readStore(ct))).toEqual(canonical(all));
    });

    it('as a target, a slot migrated during the writes: redirected (ASK, MOVED), every key arrives once', async () => {
      await cluster.flushall();
      await ct.flushall();
      for (const node of cluster.nodes) {
        const admin = node.client();
        await admin.call('CONFIG', 'RESETSTAT');
        admin.disconnect();
      }
      const tag = await tagOn(cluster, 0, 'c:');
      const all: Store = new Map();
      for (let i = 0; i < 500; i++) all.set(`${tag}:${i}`, { type: 'list', value: [`e${i}`], ttl: 'none' });
      const seed = t.client();
      for (const [key, entry] of all) await seed.rpush(key, ...(entry.value as string[]));
      seed.disconnect();
      const report = await runWhile({ url: t.url, prefix: 'c:' }, cluster.url, () =>
        cluster.migrateSlot(slotOf(`c:${tag}`), 1, () => new Promise((r) => setTimeout(r, 100)), {
          keys: 10,
          pauseMs: 10,
        }),
      );
      expect(report.outcome, report.error).toBe('done');
      expect(await cluster.ownerOf(slotOf(`c:${tag}`))).toBe(1);
      // The writes met the migration, and were redirected.
      expect((await cluster.errorCount('ASK')) + (await cluster.errorCount('MOVED'))).toBeGreaterThan(0);
      const expected: Store = new Map([...all].map(([key, entry]) => [`c:${key}`, entry]));
      expect(canonical(await readClusterStore(cluster))).toEqual(canonical(expected));
    });
  });
}
