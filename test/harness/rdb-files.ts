/**
 * RDB files for the file reader's tests, made at run time: a server of the wanted build is seeded with
 * every type in every encoding it has, in several databases, with TTLs (and hash field TTLs on 7.4+),
 * then SAVEd; the file is copied to a scratch path (the server's directory goes with the server). No
 * .rdb file is kept in the repository.
 *
 * Example:
 *   const source = await startRedis({ server: 'redis-7.4.1' });
 *   await seedEveryEncoding(source);
 *   const path = await saveRdb(source, 'v12.rdb');
 */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { RedisServer } from './redis.js';
import { fresh } from './scratch.js';

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const BINARY = Buffer.from([0, 255, 10, 13, 0x80, 0xc3, 0x28, 0x7b, 0x7d]);
const INTS = [
  '0',
  '12',
  '-1',
  '-4096',
  '32767',
  '-8388608',
  '2147483647',
  '-9223372036854775808',
  '1234567890123',
];

/** Bytes that LZF cannot shrink (xorshift32), so that the value stays as long in the file. */
function noise(n: number): Buffer {
  const out = Buffer.alloc(n);
  let x = 2463534242;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** One key per encoding; the name says which. Written to db 0, 1 and 5 (with a prefix each). */
/**
 * A stream of 10 entries with two consumer groups, two consumers with pending entries and one ack: what
 * an RDB stream value carries beyond its entries (the payload and the file tests both write it).
 */
export async function writeStreamWithGroups(r: Redis, k: string): Promise<void> {
  for (let i = 0; i < 10; i++) await r.xadd(k, `${i + 1}-0`, 'f', String(i));
  await r.xgroup('CREATE', k, 'g1', '0');
  await r.xgroup('CREATE', k, 'g2', '3-0');
  await r.xreadgroup('GROUP', 'g1', 'alice', 'COUNT', 4, 'STREAMS', k, '>');
  await r.xreadgroup('GROUP', 'g1', 'bob', 'COUNT', 2, 'STREAMS', k, '>');
  await r.xack(k, 'g1', '2-0');
}

const CASES: [key: string, write: (r: Redis, key: string) => Promise<unknown>][] = [
  ['string:raw', (r, k) => r.set(k, 'hello')],
  ['string:empty', (r, k) => r.set(k, '')],
  ['string:int', (r, k) => r.set(k, '-2000000000')],
  ['string:binary', (r, k) => r.set(k, BINARY)],
  ['string:lzf', (r, k) => r.set(k, 'abcdefgh'.repeat(500))],
  ['string:big', (r, k) => r.set(k, noise(300_000))],
  ['list:small', (r, k) => r.rpush(k, 'a', BINARY, '', ...INTS)],
  ['list:quicklist', (r, k) => r.rpush(k, ...range(5000, (i) => `element-${i}-${'x'.repeat(i % 70)}`))],
  ['list:plain-nodes', (r, k) => r.rpush(k, 'y'.repeat(5000), 'z'.repeat(70000), 'short')],
  ['set:intset', (r, k) => r.sadd(k, ...INTS)],
  ['set:small', (r, k) => r.sadd(k, 'a', 'b', BINARY, '')],
  ['set:hashtable', (r, k) => r.sadd(k, ...range(2000, (i) => `member-${i}`))],
  ['zset:small', (r, k) => r.zadd(k, 1, 'a', 2.5, 'b', -3, BINARY, 'inf', 'up', '-inf', 'down')],
  ['zset:skiplist', (r, k) => r.zadd(k, ...range(800, (i) => [String(i / 7), `m${i}`]).flat())],
  ['hash:small', (r, k) => r.hset(k, 'f', 'v', 'n', '42', BINARY, BINARY, '', '')],
  ['hash:hashtable', (r, k) => r.hset(k, ...range(2000, (i) => [`field-${i}`, `value-${i}`]).flat())],
  [
    'stream:nodes',
    async (r, k) => {
      for (let i = 0; i < 300; i++) await r.xadd(k, '*', 'f', String(i), ...(i % 7 === 3 ? ['x', 'e'] : []));
      await r.xdel(k, (await r.xrange(k, '-', '+', 'COUNT', 1))[0]![0]);
    },
  ],
  ['stream:groups', writeStreamWithGroups],
];

/** Databases written, and the TTL (ms from now) each case gets in them (0: none). */
export const SEEDED_DBS = [0, 1, 5] as const;
const TTL_MS: Record<number, number> = { 0: 0, 1: 3_600_000, 5: 7_200_000 };

/** Writes every case, then (7.4+) hashes with field TTLs; answers how many keys each db holds. */
export async function seedEveryEncoding(
  server: RedisServer,
  fieldTtls: boolean,
): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const db of SEEDED_DBS) {
    const r = server.client(db);
    for (const [name, write] of CASES) {
      const key = `db${db}:${name}`;
      await write(r, key);
      if (TTL_MS[db]) await r.pexpire(key, TTL_MS[db]!);
    }
    let n = CASES.length;
    if (fieldTtls) {
      await r.hset(`db${db}:hash:field-ttl-small`, 'a', '1', 'b', '2', 'c', '3');
      await r.call('HPEXPIRE', `db${db}:hash:field-ttl-small`, 3_600_000, 'FIELDS', 2, 'a', 'b');
      await r.hset(`db${db}:hash:field-ttl-big`, ...range(1000, (i) => [`f${i}`, `v${i}`]).flat());
      await r.call('HPEXPIRE', `db${db}:hash:field-ttl-big`, 3_600_000, 'FIELDS', 3, 'f1', 'f7', 'f999');
      n += 2;
    }
    counts.set(db, n);
  }
  return counts;
}

/** SAVEs `server` and copies its dump.rdb to a fresh scratch path, which it answers. */
export async function saveRdb(server: RedisServer, name: string): Promise<string> {
  await server.client().save();
  const path = fresh(name);
  await copyFile(join(server.dir, 'dump.rdb'), path);
  return path;
}
