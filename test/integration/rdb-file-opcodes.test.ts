/**
 * The opcodes that real servers write only under some configuration, in files SAVEd at run time:
 * IDLE (an LRU maxmemory policy) and FREQ (LFU) on redis-server 7.0, no checksum (rdbchecksum no),
 * SLOT_INFO from a cluster node of Redis 7.4 and 8.0.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RdbFile, type RdbKeyRecord, verifyRdbFile } from '../../src/rdb/file/index.js';
import { saveRdb } from '../harness/rdb-files.js';
import { type RedisServer, type StartRedisOptions, startRedis } from '../harness/redis.js';
import { describeServer, type TestServer } from '../harness/servers.js';

const started: RedisServer[] = [];
afterAll(() => Promise.all(started.map((s) => s.stop())));

async function server(opts: StartRedisOptions): Promise<RedisServer> {
  const s = await startRedis(opts);
  started.push(s);
  return s;
}

async function records(path: string): Promise<RdbKeyRecord[]> {
  const file = await RdbFile.open(path);
  const out: RdbKeyRecord[] = [];
  try {
    for await (const r of file.records()) out.push(r);
  } finally {
    await file.close();
  }
  return out;
}

describe('RDB opcodes of some configurations (redis-server 7.0)', () => {
  it('an LRU policy saves IDLE, an LFU policy FREQ, each with its key', async () => {
    for (const [policy, field] of [
      ['allkeys-lru', 'idleSeconds'],
      ['allkeys-lfu', 'freq'],
    ] as const) {
      const s = await server({ args: ['--maxmemory-policy', policy] });
      const r = s.client();
      await r.set('a', '1');
      await r.rpush('b', 'x', 'y');
      await r.pexpire('b', 600_000);
      const read = await records(await saveRdb(s, `${policy}.rdb`));
      expect(read.map((rec) => rec.key.toString()).sort()).toEqual(['a', 'b']);
      for (const rec of read) expect(typeof rec[field], `${policy} ${rec.key}`).toBe('number');
      expect(read.find((rec) => rec.key.toString() === 'b')?.expireAtMs).toBeGreaterThan(Date.now());
    }
  });

  it('a file saved with rdbchecksum no reads, its checksum absent', async () => {
    const s = await server({ args: ['--rdbchecksum', 'no'] });
    await s.client().set('k', 'v');
    const info = await verifyRdbFile(await saveRdb(s, 'no-checksum.rdb'));
    expect([info.checksum, info.keys]).toEqual(['absent', 1]);
  });
});

// Valkey 8.0.1 reads SLOT_INFO but does not write it (a cluster node's file of it has none): not here.
for (const build of ['redis-7.4.1', 'redis-8.0-m01'] as TestServer[]) {
  describeServer(build, `SLOT_INFO from a ${build} cluster node`, () => {
    it('is read as slot sizes, the keys beside them', async () => {
      const s = await server({ server: build, args: ['--cluster-enabled', 'yes'] });
      const r = s.client();
      await r.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
      const keys = ['a', 'b', 'c', '{a}x'];
      for (let tries = 0; ; tries++) {
        try {
          for (const k of keys) await r.set(k, k);
          break;
        } catch (err) {
          if (tries > 50) throw err;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      const path = await saveRdb(s, `${build}-cluster.rdb`);
      const read = await records(path);
      expect(read.map((rec) => rec.key.toString()).sort()).toEqual([...keys].sort());
      const info = await verifyRdbFile(path);
      const slotOf = async (k: string) => Number(await r.call('CLUSTER', 'KEYSLOT', k));
      const expected = new Map<number, number>();
      for (const k of keys) expected.set(await slotOf(k), (expected.get(await slotOf(k)) ?? 0) + 1);
      expect(new Map(info.slots.map(([slot, n]) => [slot, n]))).toEqual(expected);
    });
  });
}
