/**
 * The RDB file reader (src/rdb/file/) against files SAVEd at run time by every server build: each
 * record becomes a DUMP payload, is RESTOREd into a fresh server of the same build, and the two
 * servers must then hold the same data (per key: the DUMP bytes and the TTL; over all: DEBUG DIGEST).
 * Read once with the defaults (every value in memory) and once through a 61-byte window with a 4 KiB
 * big-value threshold, so that every token crosses a refill and big values take the windowed path.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  dumpPayload,
  payloadChunks,
  payloadSize,
  RdbFile,
  type RdbFileOptions,
  type RdbKeyRecord,
  verifyRdbFile,
} from '../../src/rdb/file/index.js';
import { SEEDED_DBS, saveRdb, seedEveryEncoding } from '../harness/rdb-files.js';
import { digest, type RedisServer, startRedis } from '../harness/redis.js';
import { DEFAULT_SERVER, describeServer, REDIS_SERVERS, type TestServer } from '../harness/servers.js';

const BUILDS: [TestServer, rdbVersion: number, fieldTtls: boolean][] = [
  [DEFAULT_SERVER, 10, false],
  ['redis-6.2.16', 9, false],
  ['redis-7.4.1', 12, true],
  ['redis-8.0-m01', 12, true],
  ['valkey-8.0.1', 11, false],
];
expect(BUILDS.map(([b]) => b)).toEqual([DEFAULT_SERVER, ...REDIS_SERVERS]);

const READS: [string, RdbFileOptions][] = [
  ['defaults', {}],
  ['a 61-byte window, values over 4 KiB big', { chunkBytes: 61, bigValueBytes: 4096, batchKeys: 7 }],
];

async function payloadOf(file: RdbFile, record: RdbKeyRecord, version: number): Promise<Buffer> {
  if (record.value) return dumpPayload(record, version);
  const parts: Buffer[] = [];
  for await (const part of payloadChunks(file, record, version, 1000)) parts.push(part);
  const payload = Buffer.concat(parts);
  expect(payload.length).toBe(payloadSize(record));
  return payload;
}

/**
 * What a key holds, compared between the source and the restored copy: its value's digest (order-free,
 * where DUMP bytes are not: a hashtable's order depends on the process), a stream's groups, consumers
 * and pending entries, a hash's field TTLs.
 */
async function keyState(r: Redis, key: string, fieldTtls: boolean): Promise<unknown[]> {
  const type = await r.type(key);
  const state: unknown[] = [type, await r.call('DEBUG', 'DIGEST-VALUE', key)];
  if (type === 'stream') state.push(await r.call('XINFO', 'STREAM', key, 'FULL'));
  if (type === 'hash' && fieldTtls) {
    const fields = (await r.hkeys(key)).sort();
    state.push(fields, await r.call('HPEXPIRETIME', key, 'FIELDS', fields.length, ...fields));
  }
  return state;
}

async function keysOf(r: Redis): Promise<string[]> {
  return ((await r.keys('*')) as string[]).sort();
}

for (const [build, rdbVersion, fieldTtls] of BUILDS) {
  describeServer(build, `RDB file of ${build} (RDB ${rdbVersion})`, () => {
    let source: RedisServer;
    let path: string;
    let counts: Map<number, number>;

    beforeAll(async () => {
      source = await startRedis({ server: build });
      counts = await seedEveryEncoding(source, fieldTtls);
      if (build !== 'redis-6.2.16')
        await source
          .client()
          .call(
            'FUNCTION',
            'LOAD',
            "#!lua name=kvlib\nredis.register_function('kvf', function() return 1 end)",
          );
      path = await saveRdb(source, `${build}.rdb`);
    });
    afterAll(() => source?.stop());

    it('the pre-read walks the whole file: version, AUX fields, key count, CRC-64 ok', async () => {
      const info = await verifyRdbFile(path);
      expect(info.version).toBe(rdbVersion);
      expect(info.checksum).toBe('ok');
      expect(info.trailingBytes).toBe(0);
      expect(info.keys).toBe([...counts.values()].reduce((a, b) => a + b));
      const aux = new Map(info.aux.map(([k, v]) => [k, v.toString()]));
      const serverInfo = String(await source.client().info('server'));
      // Valkey names its own version (and the server) in the file: valkey-ver, as valkey_version in INFO.
      const [name, ver] = build.startsWith('valkey')
        ? ['valkey', aux.get('valkey-ver')]
        : ['redis', aux.get('redis-ver')];
      expect(serverInfo).toContain(`${name}_version:${ver}`);
      expect(aux.get('redis-bits')).toBe('64');
      for (const db of SEEDED_DBS) expect(info.dbSizes.get(db)?.keys).toBe(counts.get(db));
      if (build === 'redis-6.2.16') expect(info.functions).toEqual([]);
      else expect(info.functions.map((f) => f.toString())).toEqual([expect.stringContaining('name=kvlib')]);
    });

    for (const [how, options] of READS) {
      it(`every key read back (${how}) RESTOREs to the same data on a fresh ${build}`, async () => {
        const target = await startRedis({ server: build });
        try {
          const file = await RdbFile.open(path, options);
          const clients = new Map<number, Redis>(SEEDED_DBS.map((db) => [db, target.client(db)]));
          const sizes: [size: number, kept: boolean][] = [];
          try {
            for await (const record of file.records()) {
              sizes.push([record.valueSize, record.value !== undefined]);
              const payload = await payloadOf(file, record, rdbVersion);
              const ttl = record.expireAtMs ?? 0;
              await clients
                .get(record.db)!
                .call('RESTORE', record.key, ttl, payload, ...(ttl ? ['ABSTTL'] : []));
            }
          } finally {
            await file.close();
          }
          const { chunkBytes = 1 << 20, bigValueBytes = 64 << 20 } = options;
          for (const [size, kept] of sizes) {
            if (size >= bigValueBytes + chunkBytes) expect(kept, `a value of ${size} bytes`).toBe(false);
            if (size < bigValueBytes - chunkBytes) expect(kept, `a value of ${size} bytes`).toBe(true);
          }
          if (options.bigValueBytes)
            expect(sizes.filter(([, kept]) => !kept).length).toBeGreaterThanOrEqual(3);
          for (const db of SEEDED_DBS) {
            const [a, b] = [source.client(db), clients.get(db)!];
            const keys = await keysOf(a);
            expect(await keysOf(b)).toEqual(keys);
            expect(keys.length).toBe(counts.get(db));
            for (const key of keys) {
              expect(await keyState(b, key, fieldTtls), key).toEqual(await keyState(a, key, fieldTtls));
              const [ta, tb] = [await a.pttl(key), await b.pttl(key)];
              expect(Math.abs(ta - tb), `${key}: TTL ${ta} against ${tb}`).toBeLessThan(5_000);
              expect(tb > 0, key).toBe(ta > 0);
            }
          }
          expect(await digest(target)).toBe(await digest(source));
        } finally {
          await target.stop();
        }
      });
    }
  });
}
