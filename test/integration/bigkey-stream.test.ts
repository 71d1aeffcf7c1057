/**
 * Issue 20: a big key created or overridden on the dump path travels as MIGRATE carries it, one DUMP
 * payload and one RESTORE, streamed from the source's reply into the target's command without kvmerge
 * holding it (write/stream-copy.ts). Each fault that path meets is caused here for real: a connection
 * cut mid-payload on either side, cut again and again, a reply lost after the RESTORE went whole, Ctrl-C
 * mid-payload, a key that appears on the target meanwhile (BUSYKEY), a payload the target cannot read,
 * a payload over write.payloadMaxBytes; an RDB file's value streamed from its bytes; and a rollback
 * puts back the big value it replaced.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolvePlan, rollback, runMerge } from '../../src/index.js';
import { bigKeysOfEveryType } from '../harness/big-keys.js';
import { commandCalls as calls } from '../harness/commandstats.js';
import { put, seed } from '../harness/data.js';
import { useServers } from '../harness/merge-servers.js';
import { withProxy } from '../harness/proxy.js';
import { saveRdb } from '../harness/rdb-files.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { fresh } from '../harness/scratch.js';
import { describeServer } from '../harness/servers.js';

const BIG_KEYS = bigKeysOfEveryType(3000, { zsetScore: (j) => j / 3 });
const LIMITS = { bigKeyElements: 500, bigKeyBytes: 8 * 1024 };
const WINDOW_COMMANDS = ['hset', 'sadd', 'zadd', 'rpush', 'xadd', 'setrange', 'append', 'rename'];

// Started once for the file, flushed before each test; the source has a user who may only read.
const servers = useServers(1, { source: { aclUsers: ['reader on >pw ~* +@read'] } });
let source: RedisServer;
let target: RedisServer;
let s: Redis;
let t: Redis;
beforeAll(() => {
  [source, target, s, t] = [servers.sources[0]!, servers.target, servers.s[0]!, servers.t];
});

function plan(doc: Record<string, unknown>, urls: { source?: string; target?: string } = {}) {
  return resolvePlan(
    {
      sources: [{ url: urls.source ?? source.url, name: 'src' }],
      target: { url: urls.target ?? target.url },
      ...doc,
      write: { ...LIMITS, ...((doc.write as object) ?? {}) },
    },
    {},
    {},
  );
}

async function expectSame(keys: string[], from: Redis = s, into: Redis = t): Promise<void> {
  for (const key of keys) {
    expect(await into.call('DEBUG', 'DIGEST-VALUE', key), key).toEqual(
      await from.call('DEBUG', 'DIGEST-VALUE', key),
    );
  }
  expect(await into.keys('kvmerge-tmp:*')).toEqual([]);
}

/** One hash of 200,000 fields (a DUMP payload of about 7 MB), so that a fault can land mid-payload. */
async function largeHash(key: string): Promise<void> {
  for (let i = 0; i < 200_000; i += 10_000) {
    const fields = Array.from({ length: 10_000 }, (_, j) => [
      `field-${i + j}`,
      `value-${i + j}-${'v'.repeat(30)}`,
    ]);
    await s.hset(key, ...fields.flat());
  }
}

describe('big keys streamed as one payload (DUMP → RESTORE)', () => {
  it('create and override: one DUMP and one RESTORE per key, no window, no temporary key; every type exact with its TTL', async () => {
    await seed(s, BIG_KEYS);
    await s.xgroup('CREATE', 'big:stream', 'readers', '0');
    await s.xreadgroup('GROUP', 'readers', 'alice', 'COUNT', 10, 'STREAMS', 'big:stream', '>');
    await t.set('big:set', 'of another type');
    await t.rpush('big:list', 'old');
    await Promise.all([s.config('RESETSTAT'), t.config('RESETSTAT')]);
    const report = await runMerge(plan({ strategies: { default: 'override' }, typeMismatch: 'override' }));
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ created: 4, overridden: 2, failed: 0 });
    expect(report.fallbacks).toEqual([]);
    expect(await calls(s, ['dump', 'hscan', 'sscan', 'zscan', 'lrange', 'xrange', 'getrange'])).toEqual({
      dump: 6,
      hscan: 0,
      sscan: 0,
      zscan: 0,
      lrange: 0,
      xrange: 0,
      getrange: 0,
    });
    const written = await calls(t, ['restore', ...WINDOW_COMMANDS]);
    expect(written).toEqual({ restore: 6, ...Object.fromEntries(WINDOW_COMMANDS.map((c) => [c, 0])) });
    await expectSame(Object.keys(BIG_KEYS));
    const ttl = await t.pttl('big:hash');
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    // The payload carries what windows cannot: the consumer group's pending entries.
    expect(await t.xpending('big:stream', 'readers')).toEqual(await s.xpending('big:stream', 'readers'));
  });

  it('a source user who may only read (+@read) is read with PTTL and DUMP: streamed whole too', async () => {
    await seed(s, { 'big:hash': BIG_KEYS['big:hash']!, 'big:zset': BIG_KEYS['big:zset']! });
    await t.config('RESETSTAT');
    const reader = source.url.replace('redis://', 'redis://reader:pw@');
    const report = await runMerge(plan({}, { source: reader }));
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ created: 2, failed: 0 });
    expect(await calls(t, ['restore', 'rename'])).toEqual({ restore: 2, rename: 0 });
    await expectSame(['big:hash', 'big:zset']);
  });

  it('a key of any bytes (NUL, 0xff, CR LF) is streamed under its exact name, a prefix added on the way', async () => {
    const name = Buffer.from([0x62, 0x00, 0xff, 0x0d, 0x0a, 0x24, 0x33]);
    await put(s, name, BIG_KEYS['big:set']!);
    await t.config('RESETSTAT');
    const report = await runMerge(plan({ sources: [{ url: source.url, name: 'src', prefix: 'p:' }] }));
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ created: 1, failed: 0 });
    expect(await calls(t, ['restore', 'rename'])).toEqual({ restore: 1, rename: 0 });
    const written = Buffer.concat([Buffer.from('p:'), name]);
    expect(await t.keysBuffer('*')).toEqual([written]);
    expect(await t.call('DEBUG', 'DIGEST-VALUE', written)).toEqual(
      await s.call('DEBUG', 'DIGEST-VALUE', name),
    );
  });

  it('a payload over write.payloadMaxBytes goes in windows, and so does every big key with 0', async () => {
    await seed(s, BIG_KEYS);
    for (const payloadMaxBytes of [2_000, 0]) {
      await t.flushall();
      await t.config('RESETSTAT');
      const report = await runMerge(
        plan({ strategies: { default: 'override' }, write: { payloadMaxBytes } }),
      );
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals).toMatchObject({ created: 6, failed: 0 });
      expect(await calls(t, ['restore', 'rename'])).toEqual({ restore: 0, rename: 6 });
      await expectSame(Object.keys(BIG_KEYS));
    }
  });

  it('a key that appears on the target meanwhile is not overwritten (BUSYKEY): the key is decided again', async () => {
    await largeHash('big:h');
    await withProxy(source.port, async (proxy) => {
      // Mid-payload (about 7 MB comes down), another client creates the key on the target.
      let appeared: Promise<unknown> | undefined;
      proxy.onFlowed(2_000_000, 'down', () => {
        appeared = t.set('big:h', 'appeared');
      });
      await t.config('RESETSTAT');
      const report = await runMerge(plan({}, { source: proxy.url(source.url) }));
      await appeared;
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals).toMatchObject({ created: 0, skipped: 1, failed: 0 });
      expect(await t.get('big:h')).toBe('appeared');
      expect((await t.info('commandstats')).match(/cmdstat_restore:calls=1,.*failed_calls=1/)).not.toBeNull();
    });
  });

  it('Ctrl-C mid-payload: the RESTORE is dropped before it is whole, and the target key stays as it was', async () => {
    await largeHash('big:h');
    await t.set('big:h', 'keep');
    await withProxy(target.port, async (proxy) => {
      const abort = new AbortController();
      proxy.onFlowed(2_000_000, 'up', () => abort.abort());
      await t.config('RESETSTAT');
      const report = await runMerge(
        plan(
          { strategies: { default: 'override' }, typeMismatch: 'override' },
          { target: proxy.url(target.url) },
        ),
        { signal: abort.signal },
      );
      expect(report.outcome).toBe('interrupted');
      expect(await t.get('big:h')).toBe('keep');
      expect((await calls(t, ['restore'])).restore).toBe(0);
      expect(await t.keys('kvmerge-tmp:*')).toEqual([]);
    });
  });
});

describe('connections cut under a streamed payload', () => {
  beforeEach(async () => {
    await largeHash('big:h');
    await Promise.all([s.config('RESETSTAT'), t.config('RESETSTAT')]);
  });

  it.each([
    ['the source', 'down', 1],
    ['the target', 'up', 2],
  ] as const)(
    '%s cut mid-payload: nothing of the cut RESTORE applies, the stream is sent again, the value is exact',
    async (side, direction, times) => {
      await withProxy(side === 'the source' ? source.port : target.port, async (proxy) => {
        proxy.cutAfter(3_000_000, direction, times);
        const urls =
          side === 'the source' ? { source: proxy.url(source.url) } : { target: proxy.url(target.url) };
        const report = await runMerge(plan({}, urls));
        expect(proxy.cuts).toBe(times);
        expect(report.outcome, report.error).toBe('done');
        expect(report.totals).toMatchObject({ created: 1, failed: 0 });
        // One RESTORE ran: the ones cut short never did. No window was written.
        expect(await calls(t, ['restore', 'hset', 'rename'])).toEqual({ restore: 1, hset: 0, rename: 0 });
        await expectSame(['big:h']);
      });
    },
    60_000,
  );

  it('cut three times: the key goes in windows instead, and arrives exact', async () => {
    await withProxy(target.port, async (proxy) => {
      proxy.cutAfter(3_000_000, 'up', 3);
      const lines: string[] = [];
      const report = await runMerge(plan({}, { target: proxy.url(target.url) }), {
        log: (line) => lines.push(line),
      });
      expect(proxy.cuts).toBe(3);
      expect(lines.filter((l) => l.includes('copying it in windows'))).toEqual([
        expect.stringMatching(/^"big:h" from src: the stream broke 3 times \(.+\); copying it in windows$/),
      ]);
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals).toMatchObject({ created: 1, failed: 0 });
      expect(await calls(t, ['restore', 'rename'])).toEqual({ restore: 0, rename: 1 });
      await expectSame(['big:h']);
    });
  }, 60_000);

  it.each([
    ['create', 'found there with EXISTS, not sent again', 1],
    ['override', 'sent again (the same payload gives the same value)', 2],
  ] as const)(
    'the reply of a whole RESTORE lost (%s): %s',
    async (action, _how, restores) => {
      if (action === 'override') await t.hset('big:h', 'old', 'value');
      await t.config('RESETSTAT');
      await withProxy(target.port, async (proxy) => {
        // The payload goes up whole, then the first byte down, its reply, cuts every connection.
        const payload = (await s.callBuffer('DUMP', 'big:h')) as Buffer;
        proxy.cutReplyAfter(payload.length - 200_000);
        const report = await runMerge(
          plan({ strategies: { default: 'override' } }, { target: proxy.url(target.url) }),
        );
        expect(proxy.cuts).toBe(1);
        expect(report.outcome, report.error).toBe('done');
        expect(report.totals).toMatchObject(
          action === 'create' ? { created: 1, failed: 0 } : { overridden: 1, failed: 0 },
        );
        expect(await calls(t, ['restore', 'hset', 'rename'])).toEqual({
          restore: restores,
          hset: 0,
          rename: 0,
        });
        await expectSame(['big:h']);
      });
    },
    60_000,
  );
});

describe("an RDB file's big value streamed from its bytes", () => {
  it("the target's connection cut mid-payload: nothing of it applies, it is sent again, the value is exact with its TTL", async () => {
    await largeHash('big:h');
    await s.pexpire('big:h', 900_000);
    const file = await saveRdb(source, 'big.rdb');
    await withProxy(target.port, async (proxy) => {
      proxy.cutAfter(3_000_000, 'up', 1);
      await t.config('RESETSTAT');
      const report = await runMerge(plan({}, { source: file, target: proxy.url(target.url) }));
      expect(proxy.cuts).toBe(1);
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals).toMatchObject({ created: 1, failed: 0 });
      expect(await calls(t, ['restore', 'hset', 'rename'])).toEqual({ restore: 1, hset: 0, rename: 0 });
      await expectSame(['big:h']);
      expect(await t.pttl('big:h')).toBeGreaterThan(800_000);
    });
  }, 60_000);
});

describe('a streamed override in the journal', () => {
  it('the big value it replaced is journaled before the RESTORE, and a rollback puts it back exactly', async () => {
    await largeHash('big:h');
    for (let i = 0; i < 100_000; i += 10_000) {
      await t.hset('big:h', ...Array.from({ length: 10_000 }, (_, j) => [`old-${i + j}`, `${i + j}`]).flat());
    }
    await t.pexpire('big:h', 900_000);
    const before = await t.call('DEBUG', 'DIGEST-VALUE', 'big:h');
    await t.config('RESETSTAT');
    const backup = fresh('stream.journal');
    const report = await runMerge(plan({ strategies: { default: 'override' }, safety: { backup } }));
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ overridden: 1, failed: 0 });
    expect(await calls(t, ['restore', 'rename'])).toEqual({ restore: 1, rename: 0 });
    await expectSame(['big:h']);
    const undone = await rollback({ backup, target: target.url });
    expect(undone).toMatchObject({ keys: 1, restored: 1, outcome: 'done' });
    expect(await t.call('DEBUG', 'DIGEST-VALUE', 'big:h')).toEqual(before);
    expect(await t.pttl('big:h')).toBeGreaterThan(800_000);
  }, 60_000);
});

describeServer('redis-7.4.1', 'a streamed payload the target cannot read (Redis 7.4 into 7.0)', () => {
  let newer: RedisServer;
  beforeAll(async () => {
    newer = await startRedis({ server: 'redis-7.4.1' });
  });
  afterAll(async () => {
    await newer?.stop();
  });

  it('goes in windows after the refused RESTORE, and the report names the fallback', async () => {
    const from = newer.client();
    await from.flushall();
    const keys = ['big:hash', 'big:set', 'big:zset', 'big:list'];
    await seed(from, Object.fromEntries(keys.map((k) => [k, BIG_KEYS[k]!])));
    await t.config('RESETSTAT');
    const report = await runMerge(plan({ strategies: { default: 'override' } }, { source: newer.url }));
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ created: 4, failed: 0 });
    expect(report.fallbacks.map((f) => [f.reason, f.keys])).toEqual([['payload rejected by target', 4]]);
    expect((await calls(t, ['rename'])).rename).toBe(4);
    await expectSame(['big:hash', 'big:set', 'big:list'], from, t);
    // A score's digest is its text, which 7.4 and 7.0 write differently for j / 3: compared as numbers.
    const scores = async (r: Redis) => (await r.zrange('big:zset', 0, -1, 'WITHSCORES')).map(Number);
    expect(await scores(t)).toEqual(await scores(from));
  });
});
