/**
 * A big value of an RDB file read again in windows (src/sources/rdb-value-windows.ts), against files
 * SAVEd at run time by every server build: each value's windows, laid end to end, must equal what the
 * server's own DUMP of the key decodes to (order-free for hashes, sets and zsets, whose order is a
 * hashtable's; exact for lists, strings and streams), forwards and, for lists, from the tail. The
 * file is read through a 211-byte chunk with 1,000-byte windows, so that every token crosses a refill
 * and every value takes several windows; LZF strings and LZF-compressed list nodes are among them.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { elementCount, RdbFile, type RdbKeyRecord } from '../../src/rdb/file/index.js';
import { fileValueWindows } from '../../src/sources/rdb-value-windows.js';
import type { StreamValue } from '../../src/types/stream/codec.js';
import { decodePayload } from '../../src/write/rdb-payload.js';
import { saveRdb, seedEveryEncoding } from '../harness/rdb-files.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { DEFAULT_SERVER, describeServer, REDIS_SERVERS, type TestServer } from '../harness/servers.js';

const BUILDS: [TestServer, fieldTtls: boolean][] = [
  [DEFAULT_SERVER, false],
  ['redis-6.2.16', false],
  ['redis-7.4.1', true],
  ['redis-8.0-m01', true],
  ['valkey-8.0.1', false],
];
expect(BUILDS.map(([b]) => b)).toEqual([DEFAULT_SERVER, ...REDIS_SERVERS]);

const WINDOW = { windowBytes: 1000, chunkBytes: 211 };

/** Keys beyond the shared seed: compressed list nodes, a long LZF string, a hash with an expired field. */
async function seedMore(r: Redis, fieldTtls: boolean): Promise<void> {
  await r.config('SET', 'list-compress-depth', '1');
  await r.rpush(
    'extra:list:lzf-nodes',
    ...Array.from({ length: 3000 }, (_, i) => `item-${i % 10}-${'q'.repeat(40)}`),
  );
  await r.set('extra:string:lzf-long', Buffer.from('0123456789abcdef'.repeat(20_000).replace(/7/g, 'x')));
  if (fieldTtls) {
    await r.hset(
      'extra:hash:expired-field',
      ...Array.from({ length: 600 }, (_, i) => [`f${i}`, `v${i}`]).flat(),
    );
    await r.call('HPEXPIRE', 'extra:hash:expired-field', 200, 'FIELDS', 2, 'f3', 'f500');
    await r.call('HPEXPIRE', 'extra:hash:expired-field', 3_600_000, 'FIELDS', 1, 'f9');
  }
}

/** Pairs (or members) as sorted strings: a hashtable's order is the process's own. */
function unordered(flat: Buffer[], per: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += per)
    out.push(
      flat
        .slice(i, i + per)
        .map((b) => b.toString('hex'))
        .join(':'),
    );
  return out.sort();
}

async function windowsOf(path: string, record: RdbKeyRecord, fromTail = false) {
  const windows: Buffer[][] = [];
  let meta: Omit<StreamValue, 'entries'> | undefined;
  for await (const window of fileValueWindows(path, record, {
    ...WINDOW,
    fromTail,
    onStreamMeta: (m) => (meta = m),
  }))
    windows.push(window);
  return { windows, meta };
}

for (const [build, fieldTtls] of BUILDS) {
  describeServer(build, `big values of a ${build} RDB file in windows`, () => {
    let source: RedisServer;
    let path: string;
    let records: RdbKeyRecord[];

    beforeAll(async () => {
      source = await startRedis({ server: build });
      await seedEveryEncoding(source, fieldTtls);
      await seedMore(source.client(), fieldTtls);
      await new Promise((resolve) => setTimeout(resolve, 300)); // the 200 ms field TTLs run out
      path = await saveRdb(source, `${build}-windows.rdb`);
      const file = await RdbFile.open(path);
      records = [];
      try {
        for await (const record of file.records())
          if (record.valueSize > 16 && record.type !== 'other') records.push(record);
      } finally {
        await file.close();
      }
    });
    afterAll(() => source?.stop());

    it('every big value, window by window, equals the server DUMP of the key', async () => {
      expect(records.length).toBeGreaterThanOrEqual(15);
      const types = new Set<string>();
      for (const record of records) {
        const r = source.client(record.db);
        const dumped = decodePayload((await r.dumpBuffer(record.key))!);
        const { windows, meta } = await windowsOf(path, record);
        const name = `${record.key} (RDB type ${record.valueType})`;
        types.add(`${record.type}/${record.valueType}`);
        for (const window of windows) expect(window.length, name).toBeGreaterThan(0);
        switch (record.type) {
          case 'string':
            expect(Buffer.concat(windows.flat()).equals(dumped.value as Buffer), name).toBe(true);
            if (record.valueSize > 2000) expect(windows.length, name).toBeGreaterThan(1);
            break;
          case 'list':
            expect(windows.flat(), name).toEqual(dumped.value);
            // From the tail: windows from the last to the first, each in list order.
            expect((await windowsOf(path, record, true)).windows.reverse().flat(), name).toEqual(
              dumped.value,
            );
            break;
          case 'stream': {
            const value = dumped.value as StreamValue;
            expect(windows.flat(), name).toEqual(value.entries);
            expect(meta, name).toEqual({ lastId: value.lastId, groups: value.groups });
            break;
          }
          default: {
            const per = record.type === 'set' ? 1 : 2;
            expect(unordered(windows.flat(), per), name).toEqual(unordered(dumped.value as Buffer[], per));
          }
        }
      }
      // The element counts the run's big-key rule reads from a value's headers, where they say one.
      let counted = 0;
      for (const record of records) {
        const count = record.value && elementCount(record.valueType, record.value);
        if (count === undefined) continue;
        counted++;
        const r = source.client(record.db);
        const len = { hash: 'HLEN', set: 'SCARD', zset: 'ZCARD', list: 'LLEN' }[record.type as string]!;
        // A hash's fields whose TTLs ran out are still in the file's count: at least the server's.
        const expected = Number(await r.call(len, record.key));
        if (record.valueType === 24 || record.valueType === 22)
          expect(count).toBeGreaterThanOrEqual(expected);
        else expect(count, `${record.key}`).toBe(expected);
      }
      expect(counted).toBeGreaterThanOrEqual(12);
      // Every encoding the build writes for a big value was read: hashtable, skiplist, quicklist, …
      expect([...types].length, [...types].join(' ')).toBeGreaterThanOrEqual(fieldTtls ? 12 : 9);
      if (fieldTtls) {
        const hash = (await source.client().hgetall('extra:hash:expired-field')) as Record<string, string>;
        expect(Object.keys(hash)).toHaveLength(598);
      }
    });
  });
}
