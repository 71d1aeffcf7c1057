/**
 * The servers the fold's properties run against (fold.property.test.ts, follow.property.test.ts): a
 * target (a server, or a 3-master Redis Cluster) and three sources, started once per pair of sides and
 * emptied between cases, with the key pool those sides can hold.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startCluster, type TestCluster } from '../harness/cluster.js';
import { load, loadCluster, readClusterStore, readStore } from '../harness/model-store.js';
import { type RedisServer, type StartRedisOptions, startRedis } from '../harness/redis.js';
import { describeServer, type TestServer } from '../harness/servers.js';
import { KEYS, NUL_FREE_KEYS } from './arbitraries.js';
import type { Entry, Store } from './model.js';

export interface Sides {
  source: TestServer;
  /** `cluster`: a 3-master Redis Cluster of Debian's redis-server (test/harness/cluster.ts). */
  target: TestServer | 'cluster';
}

/** One describe block per pair of sides, skipped with a line where a server binary is missing. */
export function describeSides(all: readonly Sides[], title: string, body: (sides: Sides) => void): void {
  for (const sides of all) {
    describeServer(
      [sides.source, sides.target === 'cluster' ? 'redis' : sides.target],
      `${title}: ${sides.source} into ${sides.target}`,
      () => body(sides),
    );
  }
}

export interface PropertyServers {
  /** [0] the target (a cluster's first node), [1..3] the sources; filled in by beforeAll. */
  servers: RedisServer[];
  clients: Redis[];
  cluster?: TestCluster;
  targetUrl: string;
  /** The key pool: Pika 4 cuts keys at a NUL byte (refused, tested in pika.test.ts), so it has none. */
  keys: readonly string[];
  /** Empties the target's pool (a cluster: every master) and writes `entries`. */
  loadTarget(entries: readonly [string, Entry][]): Promise<void>;
  readTarget(): Promise<Store>;
}

/** Starts the servers of `sides` before the block's tests and stops them after. */
export function usePropertyServers(sides: Sides, sourceOptions: StartRedisOptions = {}): PropertyServers {
  const keys = sides.source === 'pika-4.0.1' || sides.target === 'pika-4.0.1' ? NUL_FREE_KEYS : KEYS;
  const p: PropertyServers = {
    servers: [],
    clients: [],
    targetUrl: '',
    keys,
    loadTarget: (entries) =>
      p.cluster ? loadCluster(p.cluster, entries) : load(p.clients[0]!, keys, entries),
    readTarget: () => (p.cluster ? readClusterStore(p.cluster) : readStore(p.clients[0]!)),
  };
  beforeAll(async () => {
    const sources = Array.from({ length: 3 }, () => startRedis({ ...sourceOptions, server: sides.source }));
    if (sides.target === 'cluster') {
      p.cluster = await startCluster(3);
      p.servers = [p.cluster.nodes[0]!, ...(await Promise.all(sources))];
      p.targetUrl = p.cluster.url;
    } else {
      p.servers = await Promise.all([startRedis({ server: sides.target }), ...sources]);
      p.targetUrl = p.servers[0]!.url;
    }
    p.clients = p.servers.map((s) => s.client());
  });
  afterAll(async () => {
    await p.cluster?.stop();
    await Promise.all(p.servers.slice(p.cluster ? 1 : 0).map((s) => s.stop()));
  });
  return p;
}
