/**
 * A real Redis Cluster of redis-server processes for tests: N masters on free loopback ports, every
 * slot assigned, `cluster_state:ok` on every node before it is handed out; replicas on request.
 *
 * Example:
 *   const cluster = await startCluster(3);
 *   await cluster.client().set('k', 'v');       // an ioredis Cluster client
 *   await cluster.migrateSlot(slotOf('k'), 2);   // move the slot to the third master
 *   await cluster.stop();
 */
import { Cluster, type Redis } from 'ioredis';
import { freeClusterPort } from '../../src/demo/local-server.js';
import { keySlot } from '../../src/servers/cluster/slot.js';
import { type RedisServer, startRedis } from './redis.js';
import { DEFAULT_SERVER, type TestServer } from './servers.js';

export interface TestCluster {
  /** The masters, in slot order: node i owns the i-th third (for 3) of the slots at start. */
  nodes: RedisServer[];
  /** Replicas: replicas[j] replicates nodes[j]. */
  replicas: RedisServer[];
  /** The URL of the first node: names the whole cluster. */
  url: string;
  /** A new ioredis Cluster client, closed by stop(). */
  client(): Cluster;
  /** Every key of the cluster with its node (DBSIZE summed over the masters). */
  dbsize(): Promise<number>;
  /** Empties every master. */
  flushall(): Promise<void>;
  /**
   * Moves `slot` and its keys to `nodes[to]` the way redis-cli --cluster reshard does:
   * SETSLOT IMPORTING / MIGRATING, MIGRATE the keys in batches, SETSLOT NODE on every master.
   * `between` runs after the slot is marked migrating and some keys have moved (the ASK window).
   * `pace`: keys a MIGRATE moves (100) and a pause after each, for a reshard that lasts.
   */
  migrateSlot(
    slot: number,
    to: number,
    between?: () => Promise<void>,
    pace?: { keys: number; pauseMs: number },
  ): Promise<void>;
  /** The index of the node that owns `slot` now. */
  ownerOf(slot: number): Promise<number>;
  /**
   * An error reply's count (`errorstat_<name>`: MOVED, ASK, …) summed over every node, replicas
   * included (a demoted master answers MOVED), since the last CONFIG RESETSTAT (Redis 6.2+).
   */
  errorCount(name: string): Promise<number>;
  /**
   * CLUSTER FAILOVER on replicas[j]: it becomes the master of nodes[j]'s slots, the old master its
   * replica (and answers MOVED for them). Resolves once every master agrees; nodes[j] and
   * replicas[j] are swapped, so `nodes` stays the masters. Asked again while an attempt times out.
   */
  failover(j: number): Promise<void>;
  /**
   * kill -9 of the master nodes[j]: an unplanned failover. Resolves once every live master names
   * replicas[j] as the owner of the dead master's slots (after cluster-node-timeout and an election);
   * nodes[j] becomes the promoted replica, replicas[j] the dead process.
   */
  crash(j: number): Promise<void>;
  /**
   * Starts a new, empty master and joins it to the cluster (CLUSTER MEET); resolves once every node
   * knows it, with its index in `nodes`. It owns no slot until migrateSlot moves some to it.
   */
  addMaster(): Promise<number>;
  stop(): Promise<void>;
}

/** The slot of a key (the product's own keySlot, which agrees with Redis on every key). */
export const slotOf = (key: string | Buffer): number => keySlot(key);

const SLOTS = 16384;

/** A node's build and its cluster-node-timeout. */
interface NodeOptions {
  nodeTimeoutMs: number;
  server: TestServer;
}

const startNode = async ({ nodeTimeoutMs, server }: NodeOptions): Promise<RedisServer> =>
  startRedis({
    server,
    port: freeClusterPort,
    args: [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      String(nodeTimeoutMs),
      // A replica's first sync starts at once (by default the master waits 5 s for more replicas).
      '--repl-diskless-sync-delay',
      '0',
    ],
  });

/**
 * Starts `n` masters (cluster bus on port + 10000) and joins them into one cluster; with `replicas`,
 * the first `replicas` masters get one replica each. `nodeTimeoutMs` (cluster-node-timeout, default
 * 3000): how long a silent master takes to be failed over (crash()). `server`: the build of every node
 * (test/harness/servers.ts; Debian's redis-server by default).
 */
export async function startCluster(
  n = 3,
  { replicas: replicaCount = 0, nodeTimeoutMs = 3000, server = DEFAULT_SERVER as TestServer } = {},
): Promise<TestCluster> {
  const nodeOptions: NodeOptions = { nodeTimeoutMs, server };
  const nodes: RedisServer[] = [];
  const replicas: RedisServer[] = [];
  let admins: Redis[] = [];
  try {
    for (let i = 0; i < n; i++) nodes.push(await startNode(nodeOptions));
    admins = nodes.map((node) => node.client());
    for (const [i, admin] of admins.entries()) {
      const from = Math.floor((i * SLOTS) / n);
      const to = Math.floor(((i + 1) * SLOTS) / n) - 1;
      // ADDSLOTS, not ADDSLOTSRANGE (Redis 7.0+): clusters of Redis 6.2 too.
      await admin.call('CLUSTER', 'ADDSLOTS', ...Array.from({ length: to - from + 1 }, (_, k) => from + k));
      if (i > 0) await admin.call('CLUSTER', 'MEET', '127.0.0.1', nodes[0]!.port);
    }
    await waitFor(async () => {
      for (const admin of admins) {
        const info = String(await admin.call('CLUSTER', 'INFO'));
        if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${n}`)) return false;
        // Every node must see every slot assigned, or a client may be sent to a node that says CLUSTERDOWN.
        if (!info.includes(`cluster_slots_assigned:${SLOTS}`)) return false;
      }
      return true;
    }, 20_000);
    for (let j = 0; j < replicaCount; j++) {
      const replica = await startNode(nodeOptions);
      replicas.push(replica);
      const admin = replica.client();
      await admin.call('CLUSTER', 'MEET', '127.0.0.1', nodes[0]!.port);
      const masterId = String(await admins[j]!.call('CLUSTER', 'MYID'));
      // REPLICATE needs the replica to know the master first (gossip).
      await waitFor(async () => String(await admin.call('CLUSTER', 'NODES')).includes(masterId), 20_000);
      await admin.call('CLUSTER', 'REPLICATE', masterId);
      await waitFor(async () => (await admin.info('replication')).includes('master_link_status:up'), 20_000);
      // A manual failover needs every master to know it as the replica of its master (gossip).
      const replicaId = String(await admin.call('CLUSTER', 'MYID'));
      await waitFor(async () => {
        for (const master of admins) {
          const line = String(await master.call('CLUSTER', 'NODES'))
            .split('\n')
            .find((l) => l.startsWith(replicaId));
          if (!line?.includes(` slave ${masterId} `) || !line.includes('connected')) return false;
        }
        return true;
      }, 20_000);
      admin.disconnect();
    }
  } catch (err) {
    await Promise.all([...nodes, ...replicas].map((node) => node.stop()));
    throw err;
  }
  return new LocalCluster(nodes, replicas, admins, nodeOptions);
}

class LocalCluster implements TestCluster {
  private readonly clients = new Set<Cluster>();
  private ids?: string[];

  constructor(
    readonly nodes: RedisServer[],
    readonly replicas: RedisServer[],
    private readonly admins: Redis[],
    private readonly nodeOptions: NodeOptions,
  ) {}

  get url(): string {
    return this.nodes[0]!.url;
  }

  client(): Cluster {
    const client = new Cluster(this.nodes.map((node) => ({ host: node.host, port: node.port })));
    client.on('error', () => {});
    this.clients.add(client);
    return client;
  }

  async dbsize(): Promise<number> {
    const sizes = await Promise.all(this.admins.map((admin) => admin.dbsize()));
    return sizes.reduce((a, b) => a + b, 0);
  }

  async flushall(): Promise<void> {
    await Promise.all(this.admins.map((admin) => admin.flushall()));
  }

  private async nodeIds(): Promise<string[]> {
    this.ids ??= await Promise.all(
      this.admins.map(async (admin) => String(await admin.call('CLUSTER', 'MYID'))),
    );
    return this.ids;
  }

  async errorCount(name: string): Promise<number> {
    let total = 0;
    for (const node of [...this.nodes, ...this.replicas]) {
      const client = node.client();
      const match = new RegExp(`errorstat_${name}:count=(\\d+)`).exec(await client.info('errorstats'));
      client.disconnect();
      total += match ? Number(match[1]) : 0;
    }
    return total;
  }

  async ownerOf(slot: number): Promise<number> {
    const slots = (await this.admins[0]!.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    for (const [from, to, [, port]] of slots) {
      if (slot >= from && slot <= to) return this.nodes.findIndex((node) => node.port === port);
    }
    throw new Error(`slot ${slot} has no owner`);
  }

  async migrateSlot(
    slot: number,
    to: number,
    between?: () => Promise<void>,
    pace = { keys: 100, pauseMs: 0 },
  ): Promise<void> {
    const ids = await this.nodeIds();
    const from = await this.ownerOf(slot);
    if (from === to) throw new Error(`slot ${slot} is already on node ${to}`);
    const source = this.admins[from]!;
    const dest = this.admins[to]!;
    await dest.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', ids[from]!);
    await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', ids[to]!);
    let first = true;
    for (;;) {
      const keys = (await source.callBuffer(
        'CLUSTER',
        'GETKEYSINSLOT',
        slot,
        first && between ? 1 : pace.keys,
      )) as Buffer[];
      if (keys.length > 0) {
        await source.callBuffer(
          'MIGRATE',
          '127.0.0.1',
          this.nodes[to]!.port,
          '',
          0,
          5000,
          'REPLACE',
          'KEYS',
          ...keys,
        );
      }
      if (first && between) await between();
      first = false;
      if (pace.pauseMs > 0) await new Promise((r) => setTimeout(r, pace.pauseMs));
      if (keys.length === 0) break;
    }
    for (const node of [dest, source, ...this.admins]) {
      await node.call('CLUSTER', 'SETSLOT', slot, 'NODE', ids[to]!);
    }
  }

  async failover(j: number): Promise<void> {
    const replica = this.replicas[j]!;
    const admin = replica.client();
    try {
      // A coordinated failover gives up when the replica has not caught up with the paused master
      // within 5 s (the manual-failover timeout), which a loaded machine can miss: the replica then
      // stays a replica. An operator asks again; so does the harness, until it is a master.
      const deadline = Date.now() + 45_000;
      for (;;) {
        await admin.call('CLUSTER', 'FAILOVER');
        if (await promotedWithin(admin, 8_000)) break;
        if (Date.now() > deadline)
          throw new Error(`replica on port ${replica.port} not promoted within 45000 ms`);
      }
      await waitFor(async () => {
        for (const other of this.admins) {
          const slots = (await other.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
          if (!slots.some(([, , [, port]]) => port === replica.port)) return false;
        }
        return true;
      }, 20_000);
    } finally {
      admin.disconnect();
    }
    this.replicas[j] = this.nodes[j]!;
    this.nodes[j] = replica;
    this.admins[j] = replica.client();
    this.ids = undefined;
  }

  async crash(j: number): Promise<void> {
    const dead = this.nodes[j]!;
    const replica = this.replicas[j]!;
    process.kill(dead.pid, 'SIGKILL');
    this.admins[j]!.disconnect();
    const others = this.admins.filter((_, i) => i !== j);
    await waitFor(
      async () => {
        for (const other of others) {
          const slots = (await other.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
          if (!slots.some(([, , [, port]]) => port === replica.port)) return false;
          if (!String(await other.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        }
        return true;
      },
      10 * this.nodeOptions.nodeTimeoutMs + 10_000,
    );
    this.replicas[j] = dead;
    this.nodes[j] = replica;
    this.admins[j] = replica.client();
    this.ids = undefined;
  }

  async addMaster(): Promise<number> {
    const node = await startNode(this.nodeOptions);
    const admin = node.client();
    await admin.call('CLUSTER', 'MEET', '127.0.0.1', this.nodes[0]!.port);
    const id = String(await admin.call('CLUSTER', 'MYID'));
    await waitFor(async () => {
      for (const other of this.admins) {
        if (!String(await other.call('CLUSTER', 'NODES')).includes(id)) return false;
      }
      // It must know every slot's owner too, or it refuses the keys migrated to it (CLUSTERDOWN).
      const info = String(await admin.call('CLUSTER', 'INFO'));
      return info.includes('cluster_state:ok') && info.includes(`cluster_slots_assigned:${SLOTS}`);
    }, 20_000);
    this.nodes.push(node);
    this.admins.push(admin);
    this.ids = undefined;
    return this.nodes.length - 1;
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
    await Promise.all([...this.nodes, ...this.replicas].map((node) => node.stop()));
  }
}

/** Whether the node answers ROLE as a master within `ms`. */
async function promotedWithin(node: Redis, ms: number): Promise<boolean> {
  try {
    await waitFor(async () => ((await node.call('ROLE')) as [string])[0] === 'master', ms);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`cluster not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
