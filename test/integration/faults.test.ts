/**
 * Faults caused for real (SPEC §4, §6.4): connections cut mid-run by a proxy, in both directions and
 * several times; the target killed (kill -9) and restarted on its port; a server that accepts TCP and
 * never answers. Each run is compared with the same merge run without faults on a second target: the
 * same content (DEBUG DIGEST) and the same counters.
 */
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRedis } from '../../src/demo/local-server.js';
import { type JsonReport, KvmergeError, resolvePlan, runMerge } from '../../src/index.js';
import { hash, list, seed, set, str, type Value, zset } from '../harness/data.js';
import { startProxy, type TcpProxy } from '../harness/proxy.js';
import { digest, type RedisServer, startRedis } from '../harness/redis.js';

const KEYS = 12_000;
const STRATEGIES = { string: 'override', hash: 'merge', set: 'merge', zset: 'merge', list: 'merge' };

/** Source data of every type; one key in ten is also on the target beforehand (a conflict to merge). */
const SOURCE: Record<string, Value> = {};
for (let i = 0; i < KEYS; i++) {
  const value = [
    () => str(`value-${i}-${'x'.repeat(i % 40)}`),
    () => hash({ a: `${i}`, b: 'src' }),
    () => set('m1', `m${i}`),
    () => zset(['one', i], ['two', -i]),
    () => list('x', `y${i}`, 'x'),
  ][i % 5]!();
  SOURCE[`${['s', 'h', 'set', 'z', 'l'][i % 5]}:${i}`] = value;
}

const TARGET: Record<string, Value> = {};
for (let i = 0; i < KEYS; i += 10) {
  const k = i + ((i / 10) % 5); // spread the conflicts over the types
  const value = [
    () => str('old'),
    () => hash({ b: 'tgt', c: 'tgt' }),
    () => set('tm'),
    () => zset(['one', 5], ['three', 7]),
    () => list('head'),
  ][k % 5]!();
  TARGET[`${['s', 'h', 'set', 'z', 'l'][k % 5]}:${k}`] = value;
}

let source: RedisServer;
let reference: RedisServer;
let expected: { digest: string; totals: JsonReport['totals'] };

const doc = (sourceUrl: string, targetUrl: string, extra: Record<string, unknown> = {}) => ({
  sources: [{ url: sourceUrl, name: 'src' }],
  target: { url: targetUrl },
  strategies: STRATEGIES,
  write: { batchSize: 200, concurrency: 4 },
  ...extra,
});

beforeAll(async () => {
  [source, reference] = await Promise.all([startRedis(), startRedis()]);
  await seed(source.client(), SOURCE);
  await seed(reference.client(), TARGET, { flush: true });
  const report = await runMerge(resolvePlan(doc(source.url, reference.url)));
  expect(report.outcome).toBe('done');
  expected = { digest: await digest(reference), totals: report.totals };
  expect(expected.totals.merged).toBeGreaterThan(0);
});
afterAll(async () => {
  await Promise.all([source?.stop(), reference?.stop()]);
});

type Cut = [what: 'replies' | 'requests', direction: 'down' | 'up', bytes: number];

describe.each<{ side: string; cuts: Cut[] }>([
  {
    side: 'the target',
    // Replies lost after the writes were applied: re-sending blindly would append lists twice.
    // Requests cut mid-command: what did not arrive must still be written.
    cuts: [
      ['replies', 'down', 20_000],
      ['requests', 'up', 150_000],
    ],
  },
  {
    side: 'a source',
    cuts: [
      ['replies', 'down', 100_000],
      ['requests', 'up', 20_000],
    ],
  },
])('a dropped connection to $side is retried and the result is exact', ({ side, cuts }) => {
  const toTarget = side === 'the target';
  let target: RedisServer;
  let proxy: TcpProxy;
  beforeAll(async () => {
    target = await startRedis();
    proxy = await startProxy(toTarget ? target.port : source.port);
  });
  afterAll(async () => {
    await proxy?.close();
    await target?.stop();
  });

  it.each(cuts)('cut three times (%s lost)', async (_what, direction, bytes) => {
    await seed(target.client(), TARGET, { flush: true });
    proxy.cutAfter(bytes, direction, 3);
    const plan = toTarget ? doc(source.url, proxy.url(target.url)) : doc(proxy.url(source.url), target.url);
    const report = await runMerge(resolvePlan(plan));
    expect(proxy.cuts).toBeGreaterThanOrEqual(1);
    expect(report.error).toBeUndefined();
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(expected.totals);
    expect(await digest(target)).toBe(expected.digest);
  });
});

describe('a source that stops answering mid-run', () => {
  let target: RedisServer;
  let proxy: TcpProxy;
  beforeAll(async () => {
    target = await startRedis();
    proxy = await startProxy(source.port);
  });
  afterAll(async () => {
    await proxy?.close();
    await target?.stop();
  });

  it('stops the run with exit 1 naming the source within seconds', async () => {
    await target.client().flushall();
    const plan = resolvePlan(
      doc(proxy.url(source.url), target.url, {
        network: { commandTimeoutMs: 1000, connectTimeoutMs: 1000, retryBudgetMs: 2000 },
        write: { batchSize: 20, concurrency: 1 },
      }),
    );
    const running = runMerge(plan);
    const t = target.client();
    for (let n = 0; n < 1_000; ) n = await t.dbsize();
    proxy.stall(true);
    const stalledAt = Date.now();
    try {
      const report = await running;
      expect(report.outcome).toBe('failed');
      expect(report.error).toContain(`source src redis://127.0.0.1:${proxy.port}/0`);
      expect(Date.now() - stalledAt).toBeLessThan(10_000);
    } finally {
      proxy.stall(false);
      proxy.cutAll();
    }
  });
});

describe('a zset sum whose reply a drop lost', () => {
  let src: RedisServer;
  let target: RedisServer;
  let proxy: TcpProxy;
  const Z = 3000;
  beforeAll(async () => {
    [src, target] = await Promise.all([startRedis(), startRedis()]);
    proxy = await startProxy(target.port);
    const p = src.client().pipeline();
    for (let i = 0; i < Z; i++) p.zadd(`z:${i}`, 1, 'a', 2, 'b');
    await p.exec();
  });
  afterAll(async () => {
    await proxy?.close();
    await Promise.all([src?.stop(), target?.stop()]);
  });

  it('is told by the scores read just before it: every key summed once, none failed, the run done', async () => {
    const t = target.client();
    const p = t.pipeline();
    for (let i = 0; i < Z; i++) p.zadd(`z:${i}`, 10, 'a');
    await p.exec();
    // Ten cuts in the replies: EXEC replies are most of what the target sends back.
    proxy.cutAfter(15_000, 'down', 10);
    const report = await runMerge(
      resolvePlan({
        ...doc(src.url, proxy.url(target.url)),
        strategies: { zset: 'merge' },
        merge: { zsetScore: 'sum' },
        safety: { onError: 'skip' },
      }),
    );
    expect(proxy.cuts).toBeGreaterThanOrEqual(1);
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ merged: Z, failed: 0 });
    const c = t.pipeline();
    for (let i = 0; i < Z; i++) c.zrange(`z:${i}`, 0, -1, 'WITHSCORES');
    const values = (await c.exec())!.map(([, v]) => (v as string[]).join(','));
    // Applied once: never 12 for a, never left at 10.
    for (const [i, value] of values.entries()) expect(value, `z:${i}`).toBe('b,2,a,11');
  });
});

describe('the target killed and restarted on its port mid-run', () => {
  it('reconnects, re-authenticates, resolves what was in flight, and ends with the exact result', async () => {
    const aof = ['--appendonly', 'yes', '--appendfsync', 'always'];
    const first = await startLocalRedis({ password: 'pw', args: aof });
    let second: Awaited<ReturnType<typeof startLocalRedis>> | undefined;
    try {
      const admin = (await import('ioredis')).Redis;
      const t = new admin({ port: first.port, password: 'pw', lazyConnect: true });
      t.on('error', () => {});
      await seed(t, TARGET, { flush: true });
      t.disconnect();
      const running = runMerge(resolvePlan(doc(source.url, first.url)));
      // Kill it once a part of the keys has arrived.
      const watch = new admin({ port: first.port, password: 'pw' });
      watch.on('error', () => {});
      for (let n = 0; n < 2_000; ) n = await watch.dbsize();
      process.kill(first.pid, 'SIGKILL');
      watch.disconnect();
      second = await startLocalRedis({
        password: 'pw',
        port: first.port,
        args: ['--dir', first.dir, ...aof],
      });
      const report = await running;
      expect(report.error).toBeUndefined();
      expect(report.outcome).toBe('done');
      expect(report.totals).toEqual(expected.totals);
      const d = new admin({ port: first.port, password: 'pw' });
      expect(String(await d.call('DEBUG', 'DIGEST'))).toBe(expected.digest);
      d.disconnect();
    } finally {
      await second?.stop();
      await first.stop();
    }
  });
});

describe('a source killed and restarted on its port mid-run', () => {
  it('is reconnected (re-authenticated, db reselected) and read on from the same SCAN cursor: the exact result', async () => {
    const first = await startLocalRedis({ password: 'pw' });
    let second: Awaited<ReturnType<typeof startLocalRedis>> | undefined;
    const target = await startRedis();
    try {
      const { Redis } = await import('ioredis');
      const s = new Redis({ port: first.port, password: 'pw', db: 3 });
      s.on('error', () => {});
      await seed(s, SOURCE);
      // The restarted server loads this snapshot: the same data, as after a crash of a persisted source.
      await s.save();
      s.disconnect();
      await seed(target.client(), TARGET, { flush: true });
      const running = runMerge(resolvePlan(doc(first.urlFor(3), target.url)));
      const t = target.client();
      for (let n = 0; n < KEYS / 10 + 2_000; ) n = await t.dbsize();
      process.kill(first.pid, 'SIGKILL');
      second = await startLocalRedis({ password: 'pw', port: first.port, args: ['--dir', first.dir] });
      const report = await running;
      expect(report.error).toBeUndefined();
      expect(report.outcome).toBe('done');
      expect(report.totals).toEqual(expected.totals);
      expect(await digest(target)).toBe(expected.digest);
    } finally {
      await second?.stop();
      await first.stop();
      await target.stop();
    }
  });
});

describe("a source restarted during a big key's windowed copy", () => {
  it('abandons that key (the target key as it was, no temporary key), fails it with the reason, copies the rest', async () => {
    const first = await startLocalRedis();
    let second: Awaited<ReturnType<typeof startLocalRedis>> | undefined;
    // A small proto-max-bulk-len makes the windows small (a quarter of it): ~50 windows for this hash.
    const target = await startRedis({ args: ['--proto-max-bulk-len', '1mb'] });
    const failedFile = path.join(tmpdir(), `kvmerge-bigrestart-${process.pid}.jsonl`);
    try {
      const { Redis } = await import('ioredis');
      const s = new Redis({ port: first.port });
      s.on('error', () => {});
      for (let i = 0; i < 200_000; i += 10_000) {
        const fields: string[] = [];
        for (let j = i; j < i + 10_000; j++) fields.push(`field-${j}`, `value-${j}-${'v'.repeat(40)}`);
        await s.hset('big', ...fields);
      }
      for (let i = 0; i < 100; i++) await s.set(`small:${i}`, `${i}`);
      await s.save();
      s.disconnect();
      const t = target.client();
      await t.set('big', 'before');
      const running = runMerge(
        resolvePlan({
          sources: [{ url: first.url, name: 'src' }],
          target: { url: target.url },
          strategies: { default: 'override' },
          typeMismatch: 'override',
          write: { bigKeyElements: 1000 },
          safety: { onError: 'skip', failedKeys: failedFile },
        }),
      );
      let building = false;
      const deadline = Date.now() + 20_000;
      while (!building && Date.now() < deadline) building = (await t.keys('kvmerge-tmp:*')).length > 0;
      expect(building).toBe(true);
      process.kill(first.pid, 'SIGKILL');
      second = await startLocalRedis({ port: first.port, args: ['--dir', first.dir] });
      const report = await running;
      expect(report.outcome).toBe('failed');
      expect(report.totals.failed).toBe(1);
      expect(report.totals.created).toBe(100);
      const failed = JSON.parse((await readFile(failedFile, 'utf8')).trim()) as Record<string, string>;
      expect(failed).toMatchObject({ key: 'big', source: 'src', type: 'hash' });
      expect(failed.reason).toContain("the source connection was lost during this big key's windowed copy");
      expect(await t.get('big')).toBe('before');
      expect(await t.keys('kvmerge-tmp:*')).toEqual([]);
      expect(await t.get('small:42')).toBe('42');
    } finally {
      await second?.stop();
      await first.stop();
      await target.stop();
    }
  });
});

describe("the target's connection cut during big keys' windowed copies", () => {
  it('builds a value aside again from its first window, and appends a list window once: the exact result', async () => {
    const [source, target] = await Promise.all([startRedis(), startRedis()]);
    const proxy = await startProxy(target.port);
    try {
      const s = source.client();
      const t = target.client();
      const ELEMENTS = 150_000;
      for (let i = 0; i < ELEMENTS; i += 10_000) {
        const range = Array.from({ length: 10_000 }, (_, n) => i + n);
        await s.hset('big:h', ...range.flatMap((n) => [`f${n}`, `v${n}`]));
        await s.rpush('big:l', ...range.map((n) => `e${n}`));
      }
      await t.rpush('big:l', 'base');
      // About 4.5 MB of windows go up: every connection is cut three times on the way.
      proxy.cutAfter(1_200_000, 'up', 3);
      const report = await runMerge(
        resolvePlan({
          sources: [{ url: source.url, name: 'src' }],
          target: { url: proxy.url(target.url) },
          strategies: { hash: 'override', list: 'merge' },
          merge: { list: 'append' },
          // Windows only: bigkey-stream.test.ts cuts the streamed path.
          write: { bigKeyElements: 1000, bigKeyBytes: 100_000, payloadMaxBytes: 0 },
        }),
      );
      expect(proxy.cuts).toBe(3);
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals).toMatchObject({ created: 1, merged: 1, failed: 0 });
      const list = await t.lrange('big:l', 0, -1);
      expect(list.length).toBe(ELEMENTS + 1);
      expect(list.every((v, i) => (i === 0 ? v === 'base' : v === `e${i - 1}`))).toBe(true);
      expect(await t.hlen('big:h')).toBe(ELEMENTS);
      expect(await t.keys('kvmerge-tmp:*')).toEqual([]);
    } finally {
      await proxy.close();
      await Promise.all([source.stop(), target.stop()]);
    }
  }, 60_000);
});

describe('a server that accepts TCP and never answers', () => {
  let target: RedisServer;
  let proxy: TcpProxy;
  beforeAll(async () => {
    target = await startRedis({ password: 's3cret' });
    proxy = await startProxy(target.port);
  });
  afterAll(async () => {
    await proxy?.close();
    await target?.stop();
  });

  it('is an error naming it within seconds, before any write (exit 2)', async () => {
    proxy.stall(true);
    try {
      const started = Date.now();
      const plan = resolvePlan(
        doc(source.url, proxy.url(target.url), {
          network: { commandTimeoutMs: 1000, connectTimeoutMs: 1000 },
        }),
      );
      const err = await runMerge(plan).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(KvmergeError);
      expect((err as KvmergeError).exitCode).toBe(2);
      const message = (err as Error).message;
      expect(message).toContain(`target redis://:***@127.0.0.1:${proxy.port}/0`);
      expect(message).toMatch(/never answered: not a byte within 1s/);
      expect(message).not.toContain('s3cret');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      proxy.stall(false);
    }
  });

  it('mid-run: exits 1 naming it once the retry budget is spent', async () => {
    await seed(target.client(), TARGET, { flush: true });
    const plan = resolvePlan(
      doc(source.url, proxy.url(target.url), {
        network: { commandTimeoutMs: 1000, connectTimeoutMs: 1000, retryBudgetMs: 2000 },
        write: { batchSize: 20, concurrency: 1 },
      }),
    );
    const running = runMerge(plan);
    const t = target.client();
    // The target holds KEYS / 10 keys beforehand; stall once some of the run's have arrived.
    for (let n = 0; n < KEYS / 10 + 1_000; ) n = await t.dbsize();
    proxy.stall(true);
    const stalledAt = Date.now();
    try {
      const report = await running;
      expect(report.outcome).toBe('failed');
      expect(report.error).toContain(`target redis://:***@127.0.0.1:${proxy.port}/0`);
      expect(report.error).not.toContain('s3cret');
      expect(Date.now() - stalledAt).toBeLessThan(10_000);
    } finally {
      proxy.stall(false);
      proxy.cutAll();
    }
  });
});
