/**
 * The change feed of a follow on a cluster source (src/follow/feed.ts) hears every master of the moment
 * it opens, not only those the run connected to: a master added and given slots in between would
 * otherwise go unheard, with no layout change left for the watch to notice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../src/config/url.js';
import { ChangeFeed } from '../../src/follow/feed.js';
import { resolvePlan } from '../../src/index.js';
import { closeServer, openServer, type Server } from '../../src/servers/server.js';
import { DEFAULT_NETWORK } from '../../src/servers/socket.js';
import { slotOf, startCluster, type TestCluster } from '../harness/cluster.js';

async function notifyAll(cluster: TestCluster): Promise<void> {
  for (const node of cluster.nodes) {
    const admin = node.client();
    await admin.config('SET', 'notify-keyspace-events', 'KEA');
    admin.disconnect();
  }
}

describe('the change feed of a cluster source', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster(3);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('a master added and given a slot after the run connected, before the feed opened: its changes are heard', async () => {
    const server: Server = await openServer(
      parseRedisUrl(cluster.url),
      'source',
      'source s1',
      DEFAULT_NETWORK,
    );
    let feed: ChangeFeed | undefined;
    try {
      const added = await cluster.addMaster();
      await cluster.migrateSlot(slotOf('{n0}'), added);
      await notifyAll(cluster);
      const heard: string[] = [];
      const gaps: string[] = [];
      const plan = resolvePlan(
        { version: 1, sources: [{ name: 's1', url: cluster.url }], target: { url: 'redis://127.0.0.1:1' } },
        {},
        {},
      );
      feed = await ChangeFeed.open(
        [{ plan: plan.sources[0]!, server }],
        {
          changed: (_source, key) => heard.push(key.toString()),
          gap: (_source, reason) => gaps.push(reason),
        },
        { setNotifyConfig: false, intervalMs: 60_000, log: () => {} },
      );
      const writer = cluster.client();
      await writer.set('{n0}:after', 'x');
      await writer.set('other:after', 'y');
      const deadline = Date.now() + 10_000;
      while (heard.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(heard.sort()).toEqual(['other:after', '{n0}:after']);
      // Heard, not patched over by a pass: the layout did not change after the feed opened.
      expect(gaps).toEqual([]);
    } finally {
      feed?.close();
      await closeServer(server);
    }
  }, 60_000);
});
