/**
 * Hash field TTLs (HPEXPIRE, Redis 7.4+) of an RDB file on the native path: a file SAVEd by Redis 8.0
 * holds hashes whose fields expire on their own, small (listpack, RDB type 25) and big (hashtable,
 * type 24). Where its values are decoded, not restored (a hash merge, --mode native), a Redis 7.4
 * target gets each field's expiry as the file has it; a target without field TTLs (Valkey 8.0) gets the
 * fields alone, as from the live server. A hash merge that keeps the target's fields (hashField
 * target) leaves their expiries as they were.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mergeInto } from '../harness/file-fold.js';
import { saveRdb } from '../harness/rdb-files.js';
import { digest, type RedisServer, startRedis } from '../harness/redis.js';
import { describeServer } from '../harness/servers.js';

/** How far a field's expiry on the target may be from the file's (the target's clock is measured). */
const TOLERANCE_MS = 1_000;
const MERGE = { default: 'merge', string: 'override', stream: 'skip' };
const BIG = Array.from({ length: 1000 }, (_, i) => [`f${i}`, `v${i}`]).flat();

/** Each field's absolute expiry (HPEXPIRETIME: -1 none, -2 no such field). */
async function expiries(r: Redis, key: string, fields: string[]): Promise<number[]> {
  return (await r.call('HPEXPIRETIME', key, 'FIELDS', fields.length, ...fields)) as number[];
}

describeServer(
  ['redis-8.0-m01', 'redis-7.4.1', 'valkey-8.0.1'],
  'hash field TTLs of an RDB file, decoded',
  () => {
    let source: RedisServer;
    let file: string;
    let target: RedisServer;
    let withoutFieldTtls: RedisServer;
    let fromLive: RedisServer;
    /** The file's field expiries, as the server that saved it says them. */
    let small: number[];
    let big: number[];

    beforeAll(async () => {
      [source, target, withoutFieldTtls, fromLive] = await Promise.all([
        startRedis({ server: 'redis-8.0-m01' }),
        startRedis({ server: 'redis-7.4.1' }),
        startRedis({ server: 'valkey-8.0.1' }),
        startRedis({ server: 'valkey-8.0.1' }),
      ]);
      const s = source.client();
      await s.hset('small', 'a', '1', 'b', '2', 'c', '3');
      await s.call('HPEXPIRE', 'small', 600_000, 'FIELDS', 1, 'a');
      await s.call('HPEXPIRE', 'small', 300_000, 'FIELDS', 1, 'b');
      await s.hset('big', ...BIG);
      await s.call('HPEXPIRE', 'big', 400_000, 'FIELDS', 2, 'f1', 'f999');
      await s.set('plain', 'v');
      small = await expiries(s, 'small', ['a', 'b', 'c']);
      big = await expiries(s, 'big', ['f1', 'f999', 'f2']);
      file = await saveRdb(source, 'field-ttls.rdb');
    });
    afterAll(async () => {
      await Promise.all([source, target, withoutFieldTtls, fromLive].map((s) => s?.stop()));
    });

    const near = (found: number[], wanted: number[]) => {
      expect(found.map((t) => t < 0)).toEqual(wanted.map((t) => t < 0));
      for (const [i, t] of found.entries())
        expect(Math.abs(t - wanted[i]!)).toBeLessThanOrEqual(TOLERANCE_MS);
    };

    it('a hash merge (hashField source) gives the file’s fields their expiries on 7.4', async () => {
      const t = target.client();
      await t.flushall();
      await t.hset('small', 'a', 'target', 'own', 'x');
      await t.call('HPEXPIRE', 'small', 900_000, 'FIELDS', 2, 'a', 'own');
      await t.hset('big', 'own', 'x');
      const report = await mergeInto([file], target.url, MERGE);
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals.merged).toBe(2);
      expect(await t.hget('small', 'a')).toBe('1');
      near(await expiries(t, 'small', ['a', 'b', 'c']), small);
      near(await expiries(t, 'big', ['f1', 'f999', 'f2']), big);
      // The target's own field keeps its own expiry.
      expect((await expiries(t, 'small', ['own']))[0]).toBeGreaterThan(Date.now() + 800_000);
      expect(await t.hlen('big')).toBe(1001);
    });

    it('a hash merge that keeps the target’s fields (hashField target) leaves their expiries as they were', async () => {
      const t = target.client();
      await t.flushall();
      await t.hset('small', 'a', 'target', 'b', 'target');
      await t.call('HPEXPIRE', 'small', 900_000, 'FIELDS', 1, 'b');
      const report = await mergeInto([file], target.url, MERGE, { merge: { hashField: 'target' } });
      expect(report.outcome, report.error).toBe('done');
      expect(await t.hmget('small', 'a', 'b', 'c')).toEqual(['target', 'target', '3']);
      const [a, b] = await expiries(t, 'small', ['a', 'b']);
      expect(a).toBe(-1);
      expect(b).toBeGreaterThan(Date.now() + 800_000);
    });

    it('an override written natively (--mode native) into 7.4 keeps every field expiry of the file', async () => {
      const t = target.client();
      await t.flushall();
      await t.hset('small', 'old', 'gone');
      const report = await mergeInto(
        [file],
        target.url,
        { default: 'override' },
        { write: { mode: 'native' } },
      );
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals.overridden).toBe(1);
      expect(await t.hkeys('small')).toEqual(expect.arrayContaining(['a', 'b', 'c']));
      expect(await t.hexists('small', 'old')).toBe(0);
      near(await expiries(t, 'small', ['a', 'b', 'c']), small);
      near(await expiries(t, 'big', ['f1', 'f999', 'f2']), big);
    });

    it('into Valkey 8.0 (no field TTLs) the fields arrive alone, as from the live server', async () => {
      for (const [strategies, extra] of [
        [MERGE, {}],
        [{ default: 'override' }, { write: { mode: 'native' } }],
      ] as const) {
        for (const t of [withoutFieldTtls, fromLive]) {
          await t.client().flushall();
          await t.client().hset('small', 'own', 'x');
        }
        const fromFile = await mergeInto([file], withoutFieldTtls.url, strategies, extra);
        const live = await mergeInto([source.url], fromLive.url, strategies, extra);
        expect(fromFile.outcome, fromFile.error).toBe('done');
        expect(fromFile.totals).toEqual(live.totals);
        expect(await withoutFieldTtls.client().hlen('big')).toBe(1000);
        expect(await digest(withoutFieldTtls)).toBe(await digest(fromLive));
      }
    });
  },
);
