/**
 * The property model's stores (test/property/model.ts: latin1 strings, abstract TTLs) as test data
 * (./data.ts), to load one into a real server and read one back, byte for byte: for a standalone
 * server and for a Redis Cluster (./cluster.ts).
 */
import type { Redis } from 'ioredis';
import type { Entry, Store } from '../property/model.js';
import type { TestCluster } from './cluster.js';
import { type Key, readKeys, latin1 as text, type Value, writeKeys } from './data.js';

export const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
export { text };

/** The TTL a model key with an expiry is written with: long enough to outlive any test. */
const SOME_TTL = 600_000;

function toKey(k: string, e: Entry): Key {
  const value: Value =
    e.type === 'string'
      ? { type: 'string', value: latin1(e.value) }
      : e.type === 'hash'
        ? { type: 'hash', value: e.value.map(([f, v]) => [latin1(f), latin1(v)]) }
        : e.type === 'zset'
          ? { type: 'zset', value: e.value.map(([m, s]) => [latin1(m), s]) }
          : { type: e.type, value: e.value.map(latin1) };
  return { name: latin1(k), value, ...(e.ttl === 'some' ? { ttl: SOME_TTL } : {}) };
}

function toEntry({ name, value, ttl }: Key): Entry {
  const lifetime = ttl === undefined ? 'none' : 'some';
  switch (value.type) {
    case 'string':
    case 'hash':
    case 'set':
    case 'zset':
    case 'list':
      // readKeys gave every byte string as latin1 text.
      return { ...value, ttl: lifetime } as Entry;
    default:
      throw new Error(`unexpected type ${value.type} at key ${JSON.stringify(text(name as Buffer))}`);
  }
}

/** Empties the key pool and writes `entries` (DEL of the pool: FLUSHALL takes Pika half a second). */
export async function load(
  redis: Redis,
  keys: readonly string[],
  entries: readonly [string, Entry][],
): Promise<void> {
  if (keys.length > 0) await redis.del(...keys.map(latin1));
  await writeKeys(
    redis,
    entries.map(([k, e]) => toKey(k, e)),
    { add: true },
  );
}

/** The whole database, read with Buffer commands so that no byte is lost. */
export async function readStore(redis: Redis): Promise<Store> {
  const store: Store = new Map();
  for (const key of await readKeys(redis, text, 100)) {
    // Pika 4 lists a deleted key in SCAN for a while.
    if (key.value.type !== 'none') store.set(text(key.name as Buffer), toEntry(key));
  }
  return store;
}

/** Empties every master of the cluster and writes `entries`, each key on the master of its slot. */
export async function loadCluster(cluster: TestCluster, entries: readonly [string, Entry][]): Promise<void> {
  await cluster.flushall();
  const client = cluster.client();
  try {
    await writeKeys(
      client,
      entries.map(([k, e]) => toKey(k, e)),
      { add: true },
    );
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
