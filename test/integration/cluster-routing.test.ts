/**
 * Commands reach the master of their key's slot (SPEC §7): a key that is not at argv[1] (MEMORY USAGE
 * names it after the subcommand) must be routed by that key, or every one of them costs a MOVED and a
 * refresh of the slot table (3,417 MOVED for 300 keys before the fix).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolvePlan, runMerge } from '../../src/index.js';
import { startCluster, type TestCluster } from '../harness/cluster.js';
import { type RedisServer, startRedis } from '../harness/redis.js';

let cluster: TestCluster;
let target: RedisServer;

beforeAll(async () => {
  [cluster, target] = await Promise.all([startCluster(3), startRedis()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([cluster?.stop(), target?.stop()]);
});

it('a merge from a cluster source probes every key (MEMORY USAGE included) on its own master: no MOVED', async () => {
  const client = cluster.client();
  await Promise.all(Array.from({ length: 300 }, (_, i) => client.set(`k:${i}`, 'x'.repeat(2000))));
  for (const node of cluster.nodes) {
    const admin = node.client();
    await admin.config('RESETSTAT');
    admin.disconnect();
  }
  const report = await runMerge(
    resolvePlan(
      {
        version: 1,
        sources: [{ url: cluster.url }],
        target: { url: target.url },
        strategies: { string: 'override' },
      },
      {},
      {},
    ),
  );
  expect(report.outcome, report.error).toBe('done');
  expect(report.totals.created).toBe(300);
  expect(await cluster.errorCount('MOVED')).toBe(0);
});
