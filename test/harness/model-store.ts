/**
 * Loads a model Store (./model.ts) into a real server and reads one back, byte for byte: for a
 * standalone server and for a Redis Cluster (test/harness/cluster.ts).
 */
import type { Redis } from 'ioredis';
import type { Entry, Store } from '../property/model.js';
import type { TestCluster } from './cluster.js';

export const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
export const text = (b: Buffer): string => b.toString('latin1');

/** Empties the key pool and writes `entries` (DEL of the pool: FLUSHALL takes Pika half a second). */
export async function load(
  redis: Redis,
  keys: readonly string[],
  entries: readonly [string, Entry][],
): Promise<void> {
  const p = redis.pipeline();
  if (keys.length > 0) p.del(...keys.map(latin1));
  for (const [k, e] of entries) {
    const key = latin1(k);
    switch (e.type) {
      case 'string':
        p.set(key, latin1(e.value));
        break;
      case 'hash':
        // HMSET: Pika's HSET takes one pair.
        p.hmset(key, ...e.value.flatMap(([f, v]) => [latin1(f), latin1(v)]));
        break;
      case 'set':
        p.sadd(key, ...e.value.map(latin1));
        break;
      case 'zset':
        p.zadd(key, ...e.value.flatMap(([m, s]) => [String(s), latin1(m)]));
        break;
      case 'list':
        p.rpush(key, ...e.value.map(latin1));
        break;
    }
  }
  const replies = (await p.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
}

/** The whole database, read with Buffer commands so that no byte is lost. */
export async function readStore(redis: Redis): Promise<Store> {
  const keys = new Map<string, Buffer>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scanBuffer(cursor, 'COUNT', 100);
    cursor = text(next);
    for (const k of batch) keys.set(text(k), k);
  } while (cursor !== '0');

  const store: Store = new Map();
  for (const [k, key] of keys) {
    const type = await redis.type(key);
    if (type === 'none') continue; // Pika 4 lists a deleted key in SCAN for a while
    const pttl = await redis.pttl(key);
    const ttl = pttl === -1 ? 'none' : 'some';
    switch (type) {
      case 'string':
        store.set(k, { type, value: text((await redis.getBuffer(key))!), ttl });
        break;
      case 'hash': {
        // Not hgetallBuffer: ioredis turns its reply into an object whose keys are UTF-8-decoded
        // field names, which would lose the bytes of a binary field.
        const value: [string, string][] = [];
        let c = '0';
        do {
          const [next, flat] = await redis.hscanBuffer(key, c, 'COUNT', 100);
          c = text(next);
          for (let i = 0; i < flat.length; i += 2) value.push([text(flat[i]!), text(flat[i + 1]!)]);
        } while (c !== '0');
        store.set(k, { type, value, ttl });
        break;
      }
      case 'set':
        store.set(k, { type, value: (await redis.smembersBuffer(key)).map(text), ttl });
        break;
      case 'zset': {
        // ZSCAN: Pika's ZRANGE leaves out members scored -inf.
        const [, flat] = (await redis.callBuffer('ZSCAN', key, 0, 'COUNT', 1000)) as [Buffer, Buffer[]];
        const value: [string, number][] = [];
        for (let i = 0; i < flat.length; i += 2) value.push([text(flat[i]!), Number(text(flat[i + 1]!))]);
        value.sort((a, b) => a[1] - b[1] || Buffer.compare(latin1(a[0]), latin1(b[0])));
        store.set(k, { type, value, ttl });
        break;
      }
      case 'list':
        store.set(k, { type, value: (await redis.lrangeBuffer(key, 0, -1)).map(text), ttl });
        break;
      default:
        throw new Error(`unexpected type ${type} at key ${JSON.stringify(k)}`);
    }
  }
  return store;
}

/** Empties every master of the cluster and writes `entries`, each key on the master of its slot. */
export async function loadCluster(cluster: TestCluster, entries: readonly [string, Entry][]): Promise<void> {
  await cluster.flushall();
  const client = cluster.client();
  try {
    for (const [k, e] of entries) {
      const key = latin1(k);
      switch (e.type) {
        case 'string':
          await client.set(key, latin1(e.value));
          break;
        case 'hash':
          await client.hset(key, ...e.value.flatMap(([f, v]) => [latin1(f), latin1(v)]));
          break;
        case 'set':
          await client.sadd(key, ...e.value.map(latin1));
          break;
        case 'zset':
          await client.zadd(key, ...e.value.flatMap(([m, s]) => [String(s), latin1(m)]));
          break;
        case 'list':
          await client.rpush(key, ...e.value.map(latin1));
          break;
      }
      if (e.ttl === 'some') await client.pexpire(key, 600_000);
    }
  } finally {
    client.disconnect();
  }
}

/** The keys of every master of the cluster. */
export async function readClusterStore(cluster: TestCluster): Promise<Store> {
  const store: Store = new Map();
  for (const node of cluster.nodes) {
    const client = node.client();
    try {
      for (const [k, e] of await readStore(client)) store.set(k, e);
    } finally {
      client.disconnect();
    }
  }
  return store;
}
