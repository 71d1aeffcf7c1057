import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolvePlan, runMerge } from '../../src/index.js';
import { bigKeysOfEveryType } from '../harness/big-keys.js';
import { commandCalls as calls } from '../harness/commandstats.js';
import { expiring, hash, list, seed, set, type Value, zset } from '../harness/data.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { describeServer } from '../harness/servers.js';

// Thresholds far below the defaults so that keys of a few thousand elements take the chunked path
// and cross many window boundaries; no payload streamed whole (bigkey-stream.test.ts covers that path).
const BIG = 500;
const N = 3000;

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
});

/** Big keys of every type on the source (binary hash values; the hash with a TTL). */
const BIG_KEYS = bigKeysOfEveryType(N);

function plan(doc: Record<string, unknown>) {
  return resolvePlan(
    {
      sources: [{ url: source.url }],
      target: { url: target.url },
      ...doc,
      write: {
        bigKeyElements: BIG,
        bigKeyBytes: 8 * 1024,
        payloadMaxBytes: 0,
        ...((doc.write as object) ?? {}),
      },
    },
    {},
    {},
  );
}

async function noTempKeys(): Promise<void> {
  expect(await t.keys('kvmerge-tmp:*')).toEqual([]);
}

describe('big keys are copied in windows (SPEC §2.3)', () => {
  it('create: every type arrives whole, with its TTL, and no temporary key is left', async () => {
    await seed(s, BIG_KEYS);
    await Promise.all([s.config('RESETSTAT'), t.config('RESETSTAT')]);
    const report = await runMerge(plan({ strategies: { default: 'override' } }));
    expect(report.outcome).toBe('done');
    // The chunked path, not a whole-value read: windows read by HSCAN and the like, built aside, renamed.
    expect(await t.info('commandstats')).toMatch(/cmdstat_rename:calls=6,/);
    expect(await s.info('commandstats')).toMatch(/cmdstat_hscan:calls=\d+/);
    expect(await s.info('commandstats')).not.toMatch(/cmdstat_(dump|hgetall|smembers|get):/);
    expect(report.totals.created).toBe(6);
    for (const key of ['big:hash', 'big:set', 'big:zset', 'big:list', 'big:stream', 'big:string']) {
      expect(await t.call('DEBUG', 'DIGEST-VALUE', key)).toEqual(await s.call('DEBUG', 'DIGEST-VALUE', key));
    }
    const ttl = await t.pttl('big:hash');
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    expect(await t.pttl('big:set')).toBe(-1);
    await noTempKeys();
  });

  it('override replaces the target key of another type in one step', async () => {
    await seed(s, BIG_KEYS);
    await t.set('big:hash', 'old');
    await t.rpush('big:list', 'old');
    const report = await runMerge(plan({ strategies: { default: 'override' }, typeMismatch: 'override' }));
    expect(report.totals.overridden).toBe(2);
    expect(await t.hlen('big:hash')).toBe(N);
    expect(await t.lrange('big:list', 0, 2)).toEqual(['i0', 'i1', 'i2']);
    expect(await t.llen('big:list')).toBe(N);
    await noTempKeys();
  });

  it('merge applies the windows: hash union, set union, list append and prepend', async () => {
    await seed(s, BIG_KEYS);
    await t.hset('big:hash', 'f1', 'target', 'only', 'here');
    await t.sadd('big:set', 'extra');
    await t.rpush('big:list', 'T');
    const report = await runMerge(
      plan({
        strategies: { default: 'merge', string: 'skip', stream: 'skip' },
        merge: { hashField: 'target' },
      }),
    );
    expect(report.totals.merged).toBe(3);
    expect(await t.hlen('big:hash')).toBe(N + 1);
    expect(await t.hget('big:hash', 'f1')).toBe('target');
    expect(await t.scard('big:set')).toBe(N + 1);
    const list = await t.lrange('big:list', 0, -1);
    expect(list.length).toBe(N + 1);
    expect(list[0]).toBe('T');
    expect(list[N]).toBe(`i${N - 1}`);

    await t.del('big:list');
    await t.rpush('big:list', 'T');
    await runMerge(plan({ strategies: { default: 'skip', list: 'merge' }, merge: { list: 'prepend' } }));
    const prepended = await t.lrange('big:list', 0, -1);
    expect(prepended.slice(0, 3)).toEqual(['i0', 'i1', 'i2']);
    expect(prepended[N]).toBe('T');
    await noTempKeys();
  });

  it('list union adds only what the list does not hold, across windows', async () => {
    await seed(s, BIG_KEYS);
    await t.rpush('big:list', 'i5', 'i2999', 'x');
    await runMerge(plan({ strategies: { default: 'skip', list: 'merge' }, merge: { list: 'union' } }));
    const list = await t.lrange('big:list', 0, -1);
    expect(list.length).toBe(3 + N - 2);
    expect(new Set(list).size).toBe(list.length);
  });

  it('zset sum adds each member once, even across windows', async () => {
    await seed(s, BIG_KEYS);
    await t.zadd('big:zset', 1000, 'z1', 5, 'other');
    await runMerge(plan({ strategies: { default: 'skip', zset: 'merge' }, merge: { zsetScore: 'sum' } }));
    expect(await t.zcard('big:zset')).toBe(N + 1);
    expect(Number(await t.zscore('big:zset', 'z1'))).toBe(1001);
    expect(Number(await t.zscore('big:zset', 'z2999'))).toBe(2999);
    await noTempKeys();
  });

  it('zset max and min merge across windows', async () => {
    await seed(s, BIG_KEYS);
    await t.zadd('big:zset', 1000, 'z1', -5, 'z2');
    await runMerge(plan({ strategies: { default: 'skip', zset: 'merge' }, merge: { zsetScore: 'max' } }));
    expect(Number(await t.zscore('big:zset', 'z1'))).toBe(1000);
    expect(Number(await t.zscore('big:zset', 'z2'))).toBe(2);
    await runMerge(plan({ strategies: { default: 'skip', zset: 'merge' }, merge: { zsetScore: 'min' } }));
    expect(Number(await t.zscore('big:zset', 'z1'))).toBe(1);
  });

  it('a concurrent reader never sees a half-written override', async () => {
    await seed(s, BIG_KEYS);
    await t.hset('big:hash', 'old', '1');
    const reader = target.client();
    let running = true;
    const seen = new Set<number>();
    const watch = (async () => {
      while (running) seen.add(await reader.hlen('big:hash'));
    })();
    await runMerge(plan({ strategies: { default: 'override' } }));
    running = false;
    await watch;
    expect([...seen].every((n) => n === 1 || n === N)).toBe(true);
  });

  /** 40,000 elements of ~500 bytes (about 80 windows) in a list on the source; the element filler. */
  async function bigListOnSource(key: string): Promise<string> {
    const p = s.pipeline();
    const item = 'i'.repeat(500);
    for (let i = 0; i < 40; i++) p.rpush(key, ...Array.from({ length: 1000 }, (_, j) => `${i}:${j}:${item}`));
    await p.exec();
    return item;
  }

  it('an interrupted run leaves no temporary key and the target key as it was', async () => {
    // One big list of ~20 MB: about 80 windows, so the copy is under way when the run is interrupted.
    await bigListOnSource('big:list');
    await t.set('big:list', 'keep');
    const abort = new AbortController();
    const running = runMerge(
      plan({ strategies: { default: 'override' }, typeMismatch: 'override', write: { concurrency: 1 } }),
      { signal: abort.signal },
    );
    // Interrupt once the copy is building its temporary key on the target, not before the run starts.
    let building = false;
    const deadline = Date.now() + 20_000;
    while (!building && Date.now() < deadline) building = (await t.keys('kvmerge-tmp:*')).length > 0;
    expect(building).toBe(true);
    abort.abort();
    const report = await running;
    expect(report.outcome).toBe('interrupted');
    await noTempKeys();
    expect(await t.get('big:list')).toBe('keep');
  });

  it('an interrupted run finishes a big key it is merging into in place: never half appended', async () => {
    const item = await bigListOnSource('big:append');
    await t.rpush('big:append', 'target-a', 'target-b');
    const abort = new AbortController();
    const running = runMerge(
      plan({
        strategies: { default: 'merge', string: 'override', stream: 'override' },
        write: { concurrency: 1 },
      }),
      { signal: abort.signal },
    );
    // Interrupt once the first windows are appended: the append goes on to its last window.
    const deadline = Date.now() + 20_000;
    while ((await t.llen('big:append')) <= 2 && Date.now() < deadline);
    abort.abort();
    const report = await running;
    expect(report.outcome).toBe('interrupted');
    expect(await t.llen('big:append')).toBe(40_002);
    expect(await t.lrange('big:append', -1, -1)).toEqual([`39:999:${item}`]);
    await noTempKeys();
  });
});

/*
 * Issue 20: a value over write.bigKeyElements whose MEMORY USAGE is within write.bigKeyBytes is created
 * or overridden as one payload (DUMP → RESTORE), as MIGRATE carries it; only a merge, a native write or
 * a bigger value goes in windows (SPEC §2.3). Where the dump path is refused on the way (a newer
 * source's payload the target cannot read), such a value goes in windows, never as one native command.
 */
const MID = 3_000;
const MID_LIMITS = { bigKeyElements: 500 };

const MID_KEYS: Record<string, Value> = {
  'mid:hash': expiring(
    600_000,
    hash(Array.from({ length: MID }, (_, j): [string, string] => [`f${j}`, `v${j}`])),
  ),
  'mid:set': set(...Array.from({ length: MID }, (_, j) => `m${j}`)),
  'mid:zset': zset(...Array.from({ length: MID }, (_, j): [string, number] => [`z${j}`, j])),
  'mid:list': list(...Array.from({ length: MID }, (_, j) => `i${j}`)),
};

async function expectSame(s: Redis, t: Redis): Promise<void> {
  for (const key of Object.keys(MID_KEYS)) {
    expect(await t.call('DEBUG', 'DIGEST-VALUE', key), key).toEqual(
      await s.call('DEBUG', 'DIGEST-VALUE', key),
    );
  }
  const ttl = await t.pttl('mid:hash');
  expect(ttl).toBeGreaterThan(590_000);
  expect(ttl).toBeLessThanOrEqual(600_000);
}

describe('values over bigKeyElements within bigKeyBytes (issue 20: one payload, as MIGRATE carries them)', () => {
  beforeEach(async () => {
    await seed(s, MID_KEYS);
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
      write: MID_LIMITS,
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
    const merged = await run({ strategies: { default: 'skip', hash: 'merge' }, write: MID_LIMITS });
    expect(merged.outcome, merged.error).toBe('done');
    expect(merged.totals).toMatchObject({ merged: 1 });
    expect((await calls(s, ['hscan', 'dump'])).hscan).toBeGreaterThan(1);
    expect(await t.hlen('mid:hash')).toBe(MID + 1);

    await t.flushall();
    await t.config('RESETSTAT');
    const native = await run({
      strategies: { default: 'override' },
      write: { ...MID_LIMITS, mode: 'native' },
    });
    expect(native.outcome, native.error).toBe('done');
    expect((await calls(t, ['rename'])).rename).toBe(4);
    await expectSame(s, t);
  });

  it('a value over bigKeyBytes goes in windows whatever its element count, where no payload is streamed', async () => {
    const report = await run({
      strategies: { default: 'override' },
      write: { bigKeyBytes: 4096, payloadMaxBytes: 0 },
    });
    expect(report.outcome, report.error).toBe('done');
    expect(await calls(t, ['restore', 'rename'])).toEqual({ restore: 0, rename: 4 });
    await expectSame(s, t);
  });
});

describeServer('redis-7.4.1', 'a payload the target cannot read (Redis 7.4 into 7.0)', () => {
  let newer: RedisServer;
  let older: RedisServer;
  beforeAll(async () => {
    [newer, older] = await Promise.all([startRedis({ server: 'redis-7.4.1' }), startRedis()]);
  });
  afterAll(async () => {
    await Promise.all([newer?.stop(), older?.stop()]);
  });

  it('sends a value over bigKeyElements in windows after the refused RESTORE, not as one native command', async () => {
    const from = newer.client();
    const into = older.client();
    await seed(from, MID_KEYS);
    const report = await runMerge(
      resolvePlan(
        {
          sources: [{ url: newer.url }],
          target: { url: older.url },
          strategies: { default: 'override' },
          write: MID_LIMITS,
        },
        {},
        {},
      ),
    );
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ created: 4 });
    expect(report.fallbacks.map((f) => [f.reason, f.keys])).toEqual([['payload rejected by target', 4]]);
    // Each value built aside in windows of at most bigKeyElements elements, then renamed over its key.
    const stats = await calls(into, ['rename', 'hset', 'sadd', 'zadd', 'rpush']);
    expect(stats.rename).toBe(4);
    for (const command of ['hset', 'sadd', 'zadd', 'rpush']) expect(stats[command]).toBeGreaterThan(1);
    await expectSame(from, into);
  });
});
