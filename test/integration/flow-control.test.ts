import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonReport } from '../../src/index.js';
import { type RedisServer, startRedis } from '../harness/redis.js';

const run = promisify(execFile);
const MB = 1024 * 1024;

let source: RedisServer;
/** A target that accepts bulk strings of at most 1 MB. */
let target: RedisServer;
let plainTarget: RedisServer;

beforeAll(async () => {
  [source, target, plainTarget] = await Promise.all([
    startRedis(),
    startRedis({ args: ['--proto-max-bulk-len', String(MB)] }),
    startRedis(),
  ]);
});
afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop(), plainTarget?.stop()]);
});

async function mergeInChild(doc: object): Promise<{ report: JsonReport; maxRssBytes: number }> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/merge-child.ts', JSON.stringify(doc)],
    {
      maxBuffer: 64 * MB,
    },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('flow control and payload limits (SPEC §2.1, §2.2)', () => {
  it('values over the target proto-max-bulk-len arrive in windows instead of breaking the connection', async () => {
    const s = source.client();
    const t = target.client();
    await Promise.all([s.flushall(), t.flushall()]);
    const big = Buffer.alloc(3 * MB + 5, 0x61);
    big[7] = 0xff;
    await s.set('wide:string', big);
    const fields: string[] = [];
    for (let i = 0; i < 40_000; i++) fields.push(`field-${i}`, `value-${i}-${'x'.repeat(20)}`);
    await s.hset('wide:hash', ...fields);
    const { report } = await mergeInChild({
      sources: [{ url: source.url }],
      target: { url: target.url },
      strategies: { default: 'override' },
      write: { mode: 'dump', bigKeyElements: 1_000_000 },
    });
    expect(report.outcome).toBe('done');
    expect(report.totals.created).toBe(2);
    expect(report.fallbacks.map((f) => f.reason)).toContain('payload over the target proto-max-bulk-len');
    expect((await t.getBuffer('wide:string'))!.equals(big)).toBe(true);
    expect(await t.hlen('wide:hash')).toBe(40_000);
    expect(await t.keys('kvmerge-tmp:*')).toEqual([]);
  });

  it('many large values in a row do not grow memory beyond the byte budget', async () => {
    const s = source.client();
    const t = plainTarget.client();
    await Promise.all([s.flushall(), t.flushall()]);
    const count = 30;
    // Random bytes: DUMP compresses its payload, and a run of one byte would travel as almost nothing.
    const value = randomBytes(12 * MB);
    for (let i = 0; i < count; i++) await s.set(`large:${i}`, value);
    // 360 MB of values, up to 32 batches of one key in flight: without a byte bound that is the
    // whole dataset in memory at once, several times over (reply buffer, payload, command).
    const { report, maxRssBytes } = await mergeInChild({
      sources: [{ url: source.url }],
      target: { url: plainTarget.url },
      write: { concurrency: 32, batchSize: 1 },
    });
    expect(report.totals.created).toBe(count);
    expect(await t.dbsize()).toBe(count);
    expect(report.fallbacks).toEqual([]);
    expect(maxRssBytes).toBeLessThan(300 * MB);
  });
});
