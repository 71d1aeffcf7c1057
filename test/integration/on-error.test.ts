/**
 * SPEC §6.4 and §1.2: a key that cannot be written (here: a full target, maxmemory with noeviction)
 * stops the run (`--on-error stop`) or is counted failed while the run goes on (`skip`); every failed
 * key is in `--failed-keys` with its reason. A typeMismatch `fail` stops at that key whatever the
 * concurrency.
 */
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolvePlan, runMerge } from '../../src/index.js';
import { hash, seed } from '../harness/data.js';
import { useServers } from '../harness/merge-servers.js';
import { digest, type RedisServer, startRedis } from '../harness/redis.js';

const VALUE = 'v'.repeat(20_000);
const KEYS = 300;

describe('a full target and big keys', () => {
  let source: RedisServer;
  let target: RedisServer;
  beforeAll(async () => {
    [source, target] = await Promise.all([
      startRedis(),
      startRedis({ args: ['--maxmemory', '3mb', '--maxmemory-policy', 'noeviction'] }),
    ]);
    const s = source.client();
    for (const key of ['bh:1', 'bh:2']) {
      const fields = Array.from({ length: 2_000 }, (_, i) => [`f${i}`, 'x'.repeat(2_000)]).flat();
      await s.hset(key, ...fields);
    }
    await s.mset(...Array.from({ length: 50 }, (_, i) => [`small:${i}`, 'v']).flat());
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });
  beforeEach(async () => {
    await target.client().flushall();
  });
  const run = (payloadMaxBytes?: number) =>
    runMerge(
      resolvePlan({
        sources: [{ url: source.url, name: 'src' }],
        target: { url: target.url },
        write: { bigKeyElements: 500, bigKeyBytes: 1_000_000, payloadMaxBytes },
        safety: { onError: 'skip' },
      }),
    );

  it('skip: a big key the target refuses (OOM) in windows fails alone, left as it was, and the run goes on', async () => {
    const report = await run(0);
    expect(report.outcome).toBe('failed');
    expect(report.error).toMatch(/key\(s\) could not be merged/);
    expect(report.totals.scanned).toBe(52);
    expect(report.failedKeys?.map((f) => f.key).sort()).toEqual(['bh:1', 'bh:2']);
    for (const f of report.failedKeys ?? [])
      expect(f.reason).toMatch(/^OOM .*\(the target key was left as it was\)$/);
    expect(report.totals.created).toBe(50);
    const t = target.client();
    expect(await t.exists('bh:1', 'bh:2')).toBe(0);
    expect(await t.keys('kvmerge-tmp:*')).toEqual([]);
  });

  it('skip: the streamed RESTORE the target refuses (OOM) fails its key alone, left as it was', async () => {
    // Each payload is small (its values compress): the first RESTORE fits, the memory it takes does not.
    const report = await run();
    expect(report.outcome).toBe('failed');
    expect(report.totals).toMatchObject({ created: 51, failed: 1 });
    const [failed] = report.failedKeys ?? [];
    expect(failed?.reason).toMatch(/^OOM .*\(the target key was left as it was\)$/);
    const t = target.client();
    const kept = failed?.key === 'bh:1' ? 'bh:2' : 'bh:1';
    expect(await t.exists(String(failed?.key))).toBe(0);
    expect(await t.hlen(kept)).toBe(2_000);
    expect(await t.keys('kvmerge-tmp:*')).toEqual([]);
  });
});

describe('a full target (maxmemory, noeviction)', () => {
  let source: RedisServer;
  let target: RedisServer;
  const file = path.join(tmpdir(), `kvmerge-failed-${process.pid}.jsonl`);
  beforeAll(async () => {
    [source, target] = await Promise.all([
      startRedis(),
      startRedis({ args: ['--maxmemory', '3mb', '--maxmemory-policy', 'noeviction'] }),
    ]);
    const p = source.client().pipeline();
    for (let i = 0; i < KEYS; i++) p.set(`k:${i}`, VALUE);
    await p.exec();
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });
  beforeEach(async () => {
    await target.client().flushall();
  });
  const plan = (onError: string) =>
    resolvePlan({
      sources: [{ url: source.url, name: 'src' }],
      target: { url: target.url },
      write: { batchSize: 10, concurrency: 2 },
      safety: { onError, failedKeys: file },
    });
  const lines = async (): Promise<{ key: string; source: string; type: string; reason: string }[]> =>
    (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  it('skip: goes on, counts and lists every failed key with its reason, and fails at the end', async () => {
    const report = await runMerge(plan('skip'));
    const { totals } = report;
    expect(report.outcome).toBe('failed');
    expect(report.error).toMatch(/key\(s\) could not be merged/);
    expect(totals.scanned).toBe(KEYS);
    expect(totals.failed).toBeGreaterThan(0);
    expect(totals.created + totals.failed).toBe(KEYS);
    const failed = await lines();
    expect(failed).toHaveLength(totals.failed);
    // The report names them too (the first report.sample of them), with the same reasons.
    expect(report.failedKeys).toEqual(failed.slice(0, 100));
    const t = target.client();
    for (const f of failed) {
      expect(f).toMatchObject({ source: 'src', type: 'string' });
      expect(f.reason).toMatch(/^OOM /);
      expect(await t.exists(f.key)).toBe(0);
    }
    // Every key that is on the target is counted as created, and only those.
    expect(await t.dbsize()).toBe(totals.created);
  });

  it('stop: stops at the first key that fails, names it, and lists it', async () => {
    const report = await runMerge(plan('stop'));
    const { totals } = report;
    expect(report.outcome).toBe('failed');
    expect(report.error).toMatch(/^writing "k:\d+" from src failed: OOM /);
    expect(report.error).toContain('--on-error skip');
    expect(totals.scanned).toBeLessThan(KEYS);
    expect(totals.failed).toBeGreaterThan(0);
    const failed = await lines();
    expect(failed).toHaveLength(totals.failed);
    expect(report.error).toContain(JSON.stringify(failed[0]!.key));
    expect(report.failedKeys).toEqual(failed);
    expect(await target.client().dbsize()).toBe(totals.created);
  });
});

describe('typeMismatch fail stops at that key whatever the concurrency', () => {
  const servers = useServers(1);

  it('gives the same target and counters with 1 and 8 batches in flight: the batches before it, nothing after', async () => {
    const p = servers.s[0]!.pipeline();
    for (let i = 0; i < 2000; i++) p.set(`k:${i}`, `v${i}`);
    await p.exec();
    // SCAN's order (hence the batches) must be the same in both runs: wait until the source's hash
    // table is done growing (an incremental rehash in between would reorder it).
    const order = (await stableScanOrder(servers.s[0]!)).split(',');
    // The mismatch is the 1,001st key SCAN meets: in batch 51 of 20 keys, after 1,000 keys to create.
    const mismatch = order[1000]!;
    const results: { digest: string; totals: unknown; error?: string }[] = [];
    for (const concurrency of [1, 8]) {
      await servers.t.flushall();
      await seed(servers.t, [[mismatch, hash({ f: 'target' })]]);
      const report = await servers.merge({
        typeMismatch: 'fail',
        strategies: { default: 'override' },
        write: { concurrency, batchSize: 20 },
      });
      expect(report.outcome).toBe('failed');
      expect(report.error).toMatch(new RegExp(`^type mismatch at "${mismatch}"`));
      expect(report.failedKeys?.[0]?.reason).toBe(report.error);
      expect(report.totals).toMatchObject({ created: 1000, failed: 1, scanned: 1001 });
      results.push({ digest: await digest(servers.target), totals: report.totals, error: report.error });
    }
    expect(results[1]).toEqual(results[0]);
    // Exactly the keys SCAN gave before the failing batch are on the target.
    const t = servers.t;
    for (const key of order.slice(0, 1000)) expect(await t.exists(key), key).toBe(1);
    for (const key of order.slice(1001)) expect(await t.exists(key), key).toBe(0);
  });
});

async function scanOrder(r: Redis): Promise<string> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.join(',');
}

async function stableScanOrder(r: Redis): Promise<string> {
  let last = await scanOrder(r);
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = await scanOrder(r);
    if (now === last) return now;
    last = now;
  }
  throw new Error('the source keeps reordering');
}
