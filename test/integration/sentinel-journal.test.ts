/**
 * The backup journal, rollback and resume (SPEC §6.2, §6.3) with a Sentinel-managed target (SPEC §7)
 * whose master changes: a failover during the run, or between a killed run and its resume. The target
 * is the master the sentinels name at the end, compared with DEBUG DIGEST.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolvePlan, rollback, runMerge } from '../../src/index.js';
import { kvmerge } from '../harness/cli-run.js';
import { hash, type Keys, type Layout, list, seedAll, str, type Value, zset } from '../harness/data.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { fresh } from '../harness/scratch.js';
import { type SentinelSet, startSentinelSet, throttled } from '../harness/sentinel.js';

let sentinel: SentinelSet;
let source: RedisServer;

beforeAll(async () => {
  [sentinel, source] = await Promise.all([startSentinelSet(), startRedis()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([sentinel?.stop(), source?.stop()]);
});

beforeEach(async () => {
  await (await sentinel.master()).flushall();
  await source.client().flushall();
  await sentinel.synced();
});

const KEYS = 6000;

/** Lists and zsets on both sides (append and sum would double on a second application), strings, and big keys. */
function side(who: 'target' | 'source'): Keys {
  const out: Record<string, Value> = {};
  for (let j = 0; j < KEYS; j++) {
    if (who === 'target' && j % 2 === 1) continue;
    out[`l:${j}`] = list(`${who}-a`, `${who}-b`);
    out[`z:${j}`] = zset(['shared', who === 'target' ? 1 : 2.5], [`only-${who}`, 1]);
    out[`s:${j}`] = str(`${who}${j}`);
  }
  const fields = Array.from({ length: 3000 }, (_, f): [string, string] => [`f${f}`, `${who}${f}`]);
  out['big:h'] = hash(fields);
  out['big:l'] = list(...fields.flat());
  return out;
}
const LAYOUT: Layout = { target: side('target'), sources: [side('source')] };

/** Seeds the master the sentinels name, and waits for its replicas to hold the same. */
async function seedSynced(): Promise<void> {
  await seedAll({ t: await sentinel.master(), s: [source.client()] }, LAYOUT);
  await sentinel.synced();
}

async function targetDigest(): Promise<string> {
  const master = await sentinel.master();
  try {
    return String(await master.call('DEBUG', 'DIGEST'));
  } finally {
    master.disconnect();
  }
}

async function config(): Promise<string> {
  const file = fresh('merge.json');
  const doc = {
    version: 1,
    sources: [{ url: source.url, name: 's1' }],
    target: { url: sentinel.url(0) },
    strategies: { list: 'merge', zset: 'merge', hash: 'override', string: 'override' },
    merge: { list: 'append', zsetScore: 'sum' },
    write: { batchSize: 20, concurrency: 2, bigKeyElements: 500, bigKeyBytes: 4096 },
  };
  await writeFile(file, JSON.stringify(doc));
  return file;
}

describe('the journal of a run into a Sentinel-managed target', () => {
  it('a failover during the run, then rollback through the sentinels: the new master is as before the run', async () => {
    const cfg = await config();
    await seedSynced();
    const before = await targetDigest();
    const oldMaster = await sentinel.currentMaster();
    const journal = fresh('failover.journal');

    let failover: Promise<RedisServer> | undefined;
    let finished = false;
    const run = kvmerge(['-c', cfg, '--backup', journal, '--quiet'], {
      journal,
      bytes: 100_000,
      reached: () => {
        failover = throttled([source.client()], sentinel.failover());
      },
    }).finally(() => {
      finished = true;
    });
    await expect.poll(() => failover, { timeout: 60_000 }).toBeDefined();
    const newMaster = await failover!;
    expect(newMaster).not.toBe(oldMaster);
    expect(finished, 'the run ended before the failover: give it more keys').toBe(false);
    const merged = await run;
    expect(merged.code, merged.stderr).toBe(0);
    await sentinel.synced();
    expect(await targetDigest()).not.toBe(before);

    const undo = await kvmerge(['rollback', '--backup', journal, '-t', sentinel.url(0), '--quiet']);
    expect(undo.code, undo.stderr).toBe(0);
    expect((await sentinel.currentMaster()).port).toBe(newMaster.port);
    expect(await targetDigest()).toBe(before);
    const master = await sentinel.master();
    expect(await master.keys('kvmerge-tmp:*')).toEqual([]);
    master.disconnect();
  }, 180_000);

  it('a failover during the rollback: every restore is confirmed on the master that survives', async () => {
    const cfg = await config();
    await seedSynced();
    const before = await targetDigest();
    const journal = fresh('rollback-failover.journal');
    const doc = JSON.parse(await readFile(cfg, 'utf8'));
    const report = await runMerge(resolvePlan({ ...doc, safety: { backup: journal } }, {}, {}));
    expect(report.outcome, report.error).toBe('done');
    const oldMaster = await sentinel.currentMaster();

    // Small batches keep the rollback going for longer than the failover takes.
    let failover: Promise<RedisServer> | undefined;
    let finished = false;
    const slowed = sentinel.servers.map((server) => server.client());
    const undo = rollback(
      { backup: journal, target: sentinel.url(0), batchSize: 1 },
      {
        progress: () => {
          // Both servers take the rollback's writes slowly until the sentinels name the new master:
          // the rollback follows it as soon as the old one refuses writes, before the sentinels agree.
          // Paused 90% of the time, so that a failover slowed by a busy machine still comes first.
          failover ??= throttled(slowed, sentinel.failover(), 'WRITE', { pauseMs: 450, gapMs: 50 });
        },
      },
    ).finally(() => {
      finished = true;
    });
    await expect.poll(() => failover, { timeout: 60_000 }).toBeDefined();
    expect(await failover!).not.toBe(oldMaster);
    expect(finished, 'the rollback ended before the failover: give it more keys').toBe(false);
    expect((await undo).outcome).toBe('done');
    await sentinel.synced();
    expect(await targetDigest()).toBe(before);
  }, 180_000);

  it('kill -9 of the CLI, a failover, then --resume: the target equals an uninterrupted run', async () => {
    const cfg = await config();
    await seedSynced();
    const reference = fresh('reference.journal');
    const full = await kvmerge(['-c', cfg, '--backup', reference, '--quiet']);
    expect(full.code, full.stderr).toBe(0);
    const expected = await targetDigest();
    const journalBytes = (await stat(reference)).size;

    await (await sentinel.master()).flushall();
    await source.client().flushall();
    await seedSynced();
    const journal = fresh('killed.journal');
    const killed = await kvmerge(['-c', cfg, '--backup', journal, '--quiet'], {
      journal,
      bytes: Math.floor(journalBytes * 0.4),
      signal: 'SIGKILL',
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(await targetDigest()).not.toBe(expected);
    const oldMaster = await sentinel.currentMaster();
    expect(await sentinel.failover()).not.toBe(oldMaster);

    const resumed = await kvmerge(['-c', cfg, '--backup', journal, '--resume', '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    await sentinel.synced();
    expect(await targetDigest()).toBe(expected);
    const master = await sentinel.master();
    expect(await master.keys('kvmerge-tmp:*')).toEqual([]);
    master.disconnect();
  }, 180_000);
});
