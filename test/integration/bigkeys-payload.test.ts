/**
 * Issue 20: a value over write.bigKeyElements whose MEMORY USAGE is within write.bigKeyBytes is created
 * or overridden as one payload (DUMP → RESTORE), as MIGRATE carries it; only a merge, a native write or
 * a bigger value goes in windows (SPEC §2.3). Where the dump path is refused on the way (a newer
 * source's payload the target cannot read), such a value goes in windows, never as one native command.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolvePlan, runMerge } from '../../src/index.js';
import { expiring, hash, list, seed, set, type Value, zset } from '../harness/data.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { describeServer } from '../harness/servers.js';

const N = 3_000;
const LIMITS = { bigKeyElements: 500 };

const KEYS: Record<string, Value> = {
  'mid:hash': expiring(
    600_000,
    hash(Array.from({ length: N }, (_, j): [string, string] => [`f${j}`, `v${j}`])),
  ),
  'mid:set': set(...Array.from({ length: N }, (_, j) => `m${j}`)),
  'mid:zset': zset(...Array.from({ length: N }, (_, j): [string, number] => [`z${j}`, j])),
  'mid:list': list(...Array.from({ length: N }, (_, j) => `i${j}`)),
};

/** How many times each of `commands` ran on the server since its last CONFIG RESETSTAT. */
async function calls(client: Redis, commands: string[]): Promise<Record<string, number>> {
  const info = await client.info('commandstats');
  return Object.fromEntries(
    commands.map((c) => [c, Number(info.match(new RegExp(`cmdstat_${c}:calls=(\\d+)`))?.[1] ?? 0)]),
  );
}

async function expectSame(s: Redis, t: Redis): Promise<void> {
  for (const key of Object.keys(KEYS)) {
    expect(await t.call('DEBUG', 'DIGEST-VALUE', key), key).toEqual(
      await s.call('DEBUG', 'DIGEST-VALUE', key),
    );
  }
  const ttl = await t.pttl('mid:hash');
  expect(ttl).toBeGreaterThan(590_000);
  expect(ttl).toBeLessThanOrEqual(600_000);
}

describe('values over bigKeyElements within bigKeyBytes', () => {
  let source: RedisServer;
  let target: RedisServer;
  let s: Redis;
  let t: Redis;
  beforeAll(async () => {
    [source, target] = await Promise.all([startRedis(), startRedis()]);
    s = source.client();
    t = target.client();
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });
  beforeEach(async () => {
    await Promise.all([s.flushall(), t.flushall()]);
    await seed(s, KEYS);
    await Promise.all([s.config('RESETSTAT'), t.config('RESETSTAT')]);
  });

  const run = (doc: Record<string, unknown>) =>
    runMerge(resolvePlan({ sources: [{ url: source.url }], target: { url: target.url }, ...doc }, {}, {}));

  it('are created and overridden as one payload each: DUMP and RESTORE, no window, no temporary key', async () => {
    await t.set('mid:set', 'of another type');
    await t.rpush('mid:list', 'old');
    await t.config('RESETSTAT');
    const report = await run({
      strategies: { default: 'override' },
      typeMismatch: 'override',
      write: LIMITS,
    });
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ created: 2, overridden: 2, merged: 0 });
    expect(await calls(s, ['dump', 'hscan', 'sscan', 'zscan', 'lrange'])).toEqual({
      dump: 4,
      hscan: 0,
      sscan: 0,
      zscan: 0,
      lrange: 0,
    });
    expect(await calls(t, ['restore', 'rename', 'hset', 'sadd', 'zadd', 'rpush'])).toEqual({
      restore: 4,
      rename: 0,
      hset: 0,
      sadd: 0,
      zadd: 0,
      rpush: 0,
    });
    await expectSame(s, t);
    expect(await t.keys('kvmerge-tmp:*')).toEqual([]);
  });

  it('are merged in windows, and written natively in windows', async () => {
    await t.hset('mid:hash', 'only', 'target');
    await t.config('RESETSTAT');
    const merged = await run({ strategies: { default: 'skip', hash: 'merge' }, write: LIMITS });
    expect(merged.outcome, merged.error).toBe('done');
    expect(merged.totals).toMatchObject({ merged: 1 });
    expect((await calls(s, ['hscan', 'dump'])).hscan).toBeGreaterThan(1);
    expect(await t.hlen('mid:hash')).toBe(N + 1);

    await t.flushall();
    await t.config('RESETSTAT');
    const native = await run({ strategies: { default: 'override' }, write: { ...LIMITS, mode: 'native' } });
    expect(native.outcome, native.error).toBe('done');
    expect((await calls(t, ['rename'])).rename).toBe(4);
    await expectSame(s, t);
  });

  it('a value over bigKeyBytes goes in windows whatever its element count', async () => {
    const report = await run({ strategies: { default: 'override' }, write: { bigKeyBytes: 4096 } });
    expect(report.outcome, report.error).toBe('done');
    expect(await calls(t, ['restore', 'rename'])).toEqual({ restore: 0, rename: 4 });
    await expectSame(s, t);
  });
});

describeServer('redis-7.4.1', 'a payload the target cannot read (Redis 7.4 into 7.0)', () => {
  let source: RedisServer;
  let target: RedisServer;
  beforeAll(async () => {
    [source, target] = await Promise.all([startRedis({ server: 'redis-7.4.1' }), startRedis()]);
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('sends a value over bigKeyElements in windows after the refused RESTORE, not as one native command', async () => {
    const s = source.client();
    const t = target.client();
    await seed(s, KEYS);
    const report = await runMerge(
      resolvePlan(
        {
          sources: [{ url: source.url }],
          target: { url: target.url },
          strategies: { default: 'override' },
          write: LIMITS,
        },
        {},
        {},
      ),
    );
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ created: 4 });
    expect(report.fallbacks.map((f) => [f.reason, f.keys])).toEqual([['payload rejected by target', 4]]);
    // Each value built aside in windows of at most bigKeyElements elements, then renamed over its key.
    const stats = await calls(t, ['rename', 'hset', 'sadd', 'zadd', 'rpush']);
    expect(stats.rename).toBe(4);
    for (const command of ['hset', 'sadd', 'zadd', 'rpush']) expect(stats[command]).toBeGreaterThan(1);
    await expectSame(s, t);
  });
});
