/**
 * The DUMP payload decoder (src/write/rdb-payload.ts, its encodings in src/rdb/) against real
 * servers of every RDB version the product meets: values written to take each encoding the server has (small values in the compact
 * encodings, large ones in hashtables, skiplists and quicklists, integers, binary bytes, strings long
 * enough to be LZF-compressed, compressed quicklist nodes), DUMPed, decoded, and compared with the
 * server's own native read of the same key.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamValue } from '../../src/types/stream/codec.js';
import { parseScore } from '../../src/types/zset/codec.js';
import { decodePayload, UnsupportedPayloadError } from '../../src/write/rdb-payload.js';
import { writeStreamWithGroups } from '../harness/rdb-files.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { DEFAULT_SERVER, describeServer, REDIS_SERVERS, type TestServer } from '../harness/servers.js';

const SERVERS: TestServer[] = [DEFAULT_SERVER, ...REDIS_SERVERS];
const RDB_VERSIONS: Record<string, number> = {
  redis: 10,
  'redis-6.2.16': 9,
  'redis-7.4.1': 12,
  'redis-8.0-m01': 12,
  'valkey-8.0.1': 11,
};

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const BINARY = Buffer.from([0, 255, 10, 13, 0x80, 0xc3, 0x28, 0x7b, 0x7d]);
const INTS = [
  '0',
  '1',
  '12',
  '13',
  '127',
  '128',
  '-1',
  '-4096',
  '4095',
  '-32768',
  '32767',
  '8388607',
  '-8388608',
  '2147483647',
  '-2147483648',
  '9223372036854775807',
  '-9223372036854775808',
  '1234567890123',
];

/** Each key name says what it exercises; the value is written with its type's own commands. */
const CASES: [key: string, write: (r: Redis, key: string) => Promise<unknown>][] = [
  ['string:raw', (r, k) => r.set(k, 'hello')],
  ['string:empty', (r, k) => r.set(k, '')],
  ['string:int8', (r, k) => r.set(k, '-100')],
  ['string:int16', (r, k) => r.set(k, '30000')],
  ['string:int32', (r, k) => r.set(k, '-2000000000')],
  ['string:int64-as-text', (r, k) => r.set(k, '9007199254740993')],
  ['string:binary', (r, k) => r.set(k, BINARY)],
  ['string:lzf', (r, k) => r.set(k, 'abcdefgh'.repeat(500))],
  ['string:lzf-binary', (r, k) => r.set(k, Buffer.concat(range(200, () => BINARY) as Buffer[]))],
  ['list:small', (r, k) => r.rpush(k, 'a', 'b', BINARY, '')],
  ['list:ints', (r, k) => r.rpush(k, ...INTS)],
  ['list:large', (r, k) => r.rpush(k, ...range(3000, (i) => `element-${i}-${'x'.repeat(i % 70)}`))],
  ['list:long-elements', (r, k) => r.rpush(k, 'y'.repeat(5000), 'z'.repeat(70000), 'short')],
  ['set:intset', (r, k) => r.sadd(k, ...INTS)],
  ['set:intset-16', (r, k) => r.sadd(k, '1', '2', '-3')],
  ['set:small-strings', (r, k) => r.sadd(k, 'a', 'b', BINARY, '')],
  ['set:hashtable', (r, k) => r.sadd(k, ...range(1000, (i) => `member-${i}`))],
  ['set:large-intset', (r, k) => r.sadd(k, ...range(500, (i) => String(i * 1000 - 250000)))],
  ['zset:small', (r, k) => r.zadd(k, 1, 'a', 2.5, 'b', -3, BINARY, 0, '', 1e300, 'big')],
  ['zset:inf', (r, k) => r.zadd(k, 'inf', 'up', '-inf', 'down', 0.1, 'tenth')],
  ['zset:int-members', (r, k) => r.zadd(k, ...INTS.flatMap((m, i) => [i, m]))],
  ['zset:skiplist', (r, k) => r.zadd(k, ...range(500, (i) => [String(i / 7), `m${i}`]).flat())],
  [
    'zset:skiplist-inf',
    (r, k) =>
      r.zadd(k, 'inf', 'up', '-inf', 'down', ...range(300, (i) => [String(-i * 1.5), `n${i}`]).flat()),
  ],
  ['hash:small', (r, k) => r.hset(k, 'f', 'v', 'n', '42', BINARY, BINARY, '', '')],
  ['hash:ints', (r, k) => r.hset(k, ...INTS.flatMap((v, i) => [String(i), v]))],
  ['hash:hashtable', (r, k) => r.hset(k, ...range(1000, (i) => [`field-${i}`, `value-${i}`]).flat())],
  ['hash:long-value', (r, k) => r.hset(k, 'long', 'q'.repeat(3000), 'short', 's')],
  [
    'stream:same-fields',
    async (r, k) => {
      for (let i = 0; i < 50; i++) await r.xadd(k, '*', 'user', `u${i}`, 'n', String(i));
    },
  ],
  [
    'stream:mixed',
    async (r, k) => {
      await r.xadd(k, '5-1', 'a', '1');
      await r.xadd(k, '5-2', 'b', BINARY, BINARY, '');
      await r.xadd(k, '1700000000000-0', 'a', '2', 'c', 'x'.repeat(200));
      await r.xadd(k, '1700000000000-99', 'a', '-12345');
      await r.xdel(k, '5-2');
    },
  ],
  [
    'stream:many-nodes',
    async (r, k) => {
      // 100 entries a node (stream-node-max-entries); every 7th with other fields than the node's first.
      for (let i = 0; i < 1000; i++)
        await r.xadd(k, '*', 'f', String(i), ...(i % 7 === 3 ? ['extra', 'e'] : []));
      await r.xdel(k, (await r.xrange(k, '-', '+', 'COUNT', 1))[0]![0]);
    },
  ],
  ['stream:groups', writeStreamWithGroups],
  [
    'stream:emptied',
    async (r, k) => {
      await r.xadd(k, '7-7', 'f', 'v');
      await r.xdel(k, '7-7');
    },
  ],
];

async function nativeRead(r: Redis, key: string): Promise<unknown> {
  const type = await r.type(key);
  switch (type) {
    case 'string':
      return { type, value: (await r.getBuffer(key))!.toString('hex') };
    case 'list':
      return { type, value: (await r.lrangeBuffer(key, 0, -1)).map((b) => b.toString('hex')) };
    case 'set':
      return { type, value: (await r.smembersBuffer(key)).map((b) => b.toString('hex')).sort() };
    case 'hash': {
      const flat = (await r.callBuffer('HGETALL', key)) as Buffer[];
      return {
        type,
        value: pairs(flat)
          .map(([f, v]) => [f.toString('hex'), v.toString('hex')])
          .sort(byFirst),
      };
    }
    case 'zset': {
      const flat = (await r.callBuffer('ZRANGE', key, 0, -1, 'WITHSCORES')) as Buffer[];
      return {
        type,
        value: pairs(flat)
          .map(([m, s]) => [m.toString('hex'), parseScore(s)])
          .sort(byFirst),
      };
    }
    case 'stream': {
      const entries = (await r.callBuffer('XRANGE', key, '-', '+')) as [Buffer, Buffer[]][];
      const info = (await r.call('XINFO', 'STREAM', key)) as unknown[];
      const groups = (await r.call('XINFO', 'GROUPS', key)) as unknown[][];
      const field = (flat: unknown[], name: string) => flat[flat.indexOf(name) + 1];
      return {
        type,
        value: entries.map(([id, f]) => [id.toString(), f.map((b) => b.toString('hex'))]),
        lastId: field(info, 'last-generated-id'),
        groups: groups.map((g) => [field(g, 'name'), field(g, 'last-delivered-id')]),
      };
    }
  }
  throw new Error(`unexpected type ${type}`);
}

function decodedRead(payload: Buffer): unknown {
  const { type, value } = decodePayload(payload);
  const flat = value as Buffer[];
  switch (type) {
    case 'string':
      return { type, value: (value as Buffer).toString('hex') };
    case 'list':
      return { type, value: flat.map((b) => b.toString('hex')) };
    case 'set':
      return { type, value: flat.map((b) => b.toString('hex')).sort() };
    case 'hash':
      return {
        type,
        value: pairs(flat)
          .map(([f, v]) => [f.toString('hex'), v.toString('hex')])
          .sort(byFirst),
      };
    case 'zset':
      return {
        type,
        value: pairs(flat)
          .map(([s, m]) => [m.toString('hex'), parseScore(s)])
          .sort(byFirst),
      };
  }
  if (type === 'stream') {
    const { entries, lastId, groups } = value as StreamValue;
    return {
      type,
      value: entries.map(([id, f]) => [id.toString(), f.map((b) => b.toString('hex'))]),
      lastId: lastId?.toString(),
      groups: groups.map(([name, delivered]) => [name.toString(), delivered.toString()]),
    };
  }
  throw new Error(`unexpected type ${type}`);
}

function pairs(flat: Buffer[]): [Buffer, Buffer][] {
  const out: [Buffer, Buffer][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}
const byFirst = (a: unknown[], b: unknown[]): number => {
  const [x, y] = [String(a[0]), String(b[0])];
  return x < y ? -1 : x > y ? 1 : 0;
};

for (const server of SERVERS) {
  describeServer(server, `DUMP payloads of ${server} decode to the server's own native read`, () => {
    let redis: RedisServer;
    let r: Redis;
    beforeAll(async () => {
      redis = await startRedis({ server });
      r = redis.client();
      // Compressed quicklist nodes (LZF inside the list's nodes) for every list but the first node and the last.
      await r.config('SET', 'list-compress-depth', '1');
      for (const [key, write] of CASES) await write(r, key);
    }, 60_000);
    afterAll(() => redis?.stop());

    it.each(CASES.map(([key]) => key))('%s', async (key) => {
      const payload = (await r.dumpBuffer(key)) as Buffer;
      expect(decodePayload(payload).rdbVersion).toBe(RDB_VERSIONS[server]);
      expect(decodedRead(payload)).toEqual(await nativeRead(r, key));
    });

    it('the encodings are the ones meant (small values compact, large ones not)', async () => {
      expect(await r.object('ENCODING', 'set:intset')).toBe('intset');
      expect(await r.object('ENCODING', 'set:hashtable')).toBe('hashtable');
      expect(await r.object('ENCODING', 'zset:skiplist')).toBe('skiplist');
      expect(await r.object('ENCODING', 'hash:hashtable')).toBe('hashtable');
      expect(await r.object('ENCODING', 'list:large')).toBe('quicklist');
      expect(await r.object('ENCODING', 'string:lzf')).toBe('raw');
      expect(await r.object('ENCODING', 'string:int16')).toBe('int');
    });

    it('the long stream spans several listpack nodes, and its deleted entry is left out', async () => {
      const info = (await r.call('XINFO', 'STREAM', 'stream:many-nodes')) as unknown[];
      expect(Number(info[info.indexOf('radix-tree-keys') + 1])).toBeGreaterThan(5);
      const payload = (await r.dumpBuffer('stream:many-nodes')) as Buffer;
      expect((decodePayload(payload).value as StreamValue).entries).toHaveLength(999);
    });
  });
}

for (const server of ['redis-7.4.1', 'redis-8.0-m01'] as const) {
  describeServer(server, `hashes with field expirations (HEXPIRE) on ${server}`, () => {
    it('decode to their fields and values, each field with its expiry; in a listpack and in a hashtable', async () => {
      const redis = await startRedis({ server });
      try {
        const r = redis.client();
        await r.hset('small', 'a', '1', 'b', BINARY, 'c', '3');
        await r.hset('large', ...range(600, (i) => [`f${i}`, `v${i}`]).flat());
        for (const key of ['small', 'large']) {
          const field = key === 'small' ? 'a' : 'f7';
          await r.call('HPEXPIRE', key, 100_000, 'FIELDS', 1, field);
          await r.call('HPEXPIRE', key, 200_000, 'FIELDS', 1, key === 'small' ? 'c' : 'f250');
          const payload = (await r.dumpBuffer(key)) as Buffer;
          expect(payload[0]).toBe(key === 'small' ? 25 : 24);
          expect(decodedRead(payload)).toEqual(await nativeRead(r, key));
          const expiries = decodePayload(payload).fieldExpiries!;
          const wanted = await Promise.all(
            expiries.map(async ([f]) =>
              Number(((await r.call('HPEXPIRETIME', key, 'FIELDS', 1, f)) as number[])[0]),
            ),
          );
          expect(expiries.map(([, at]) => at)).toEqual(wanted);
          expect(expiries.map(([f]) => f.toString()).sort()).toEqual(
            key === 'small' ? ['a', 'c'] : ['f250', 'f7'],
          );
        }
      } finally {
        await redis.stop();
      }
    });
  });
}

describe('payloads that are not decoded', () => {
  const trailer = Buffer.from([12, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  it('a module type is refused with a reason', () => {
    expect(() => decodePayload(Buffer.concat([Buffer.from([7, 1, 2, 3]), trailer]))).toThrow(/module type/);
  });

  it('a truncated payload is an error, not a wrong value', () => {
    expect(() => decodePayload(Buffer.from([0, 5, 104, 101, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(
      UnsupportedPayloadError,
    );
  });
});
