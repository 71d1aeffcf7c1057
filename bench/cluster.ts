import { Redis } from 'ioredis';
import { freeClusterPort, type LocalRedis, startLocalRedis } from '../src/demo/local-server.js';

/**
 * The bench's target as a Redis Cluster (`--cluster`): `n` masters of the same redis-server, every
 * slot assigned, `cluster_state:ok` on every node before the first contender runs.
 */

const SLOTS = 16384;

/** Starts `n` cluster-enabled servers and joins them into one cluster with the slots split evenly. */
export async function startBenchCluster(n: number, args: string[]): Promise<LocalRedis[]> {
  const nodes: LocalRedis[] = [];
  const admins: Redis[] = [];
  try {
    for (let i = 0; i < n; i++) {
      nodes.push(
        await startLocalRedis({
          port: freeClusterPort,
          args: [...args, '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
        }),
      );
    }
    for (const [i, node] of nodes.entries()) {
      const admin = new Redis({ host: node.host, port: node.port });
      admins.push(admin);
      await admin.call(
        'CLUSTER',
        'ADDSLOTSRANGE',
        Math.floor((i * SLOTS) / n),
        Math.floor(((i + 1) * SLOTS) / n) - 1,
      );
      if (i > 0) await admin.call('CLUSTER', 'MEET', '127.0.0.1', nodes[0]!.port);
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const infos = await Promise.all(admins.map((a) => a.call('CLUSTER', 'INFO').then(String)));
      const ready = infos.every(
        (info) =>
          info.includes('cluster_state:ok') &&
          info.includes(`cluster_known_nodes:${n}`) &&
          info.includes(`cluster_slots_assigned:${SLOTS}`),
      );
      if (ready) break;
      if (Date.now() > deadline)
        throw new Error(`the ${n}-master bench cluster did not become ready within 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return nodes;
  } catch (err) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw err;
  } finally {
    for (const admin of admins) admin.disconnect();
  }
}
