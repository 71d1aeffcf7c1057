/**
 * An RDB file as a source of the fold (SPEC §10): a file SAVEd by a real server, merged into a target
 * that holds conflicting keys, must leave the target as the same merge from the live server that
 * saved it leaves a second target (DEBUG DIGEST, and the counters). A newer file into an older target
 * takes the native path; a file folds in declared order beside a live source; a dry run counts what
 * the real run does; a damaged file is exit 2 before any write. Files are made at run time.
 */
import { readFile, truncate, writeFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonReport, resolvePlan, rollback, runMerge } from '../../src/index.js';
import { PRE_READ_BELOW } from '../../src/sources/rdb-file.js';
import { kvmerge } from '../harness/cli-run.js';
import { commandCalls } from '../harness/commandstats.js';
import { monitor } from '../harness/monitor.js';
import { saveRdb, seedEveryEncoding } from '../harness/rdb-files.js';
import { digest, type RedisServer, startRedis } from '../harness/redis.js';
import { fresh } from '../harness/scratch.js';
import { describeServer, type TestServer } from '../harness/servers.js';

type Strategies = Record<string, string>;
const STRATEGIES: [string, Strategies][] = [
  ['merge', { default: 'merge', string: 'override', stream: 'skip' }],
  ['override', { default: 'override' }],
  ['skip', { default: 'skip' }],
];

function merge(sources: string[], target: RedisServer, strategies: Strategies, extra: object = {}) {
  const doc = {
    version: 1,
    sources: sources.map((url, i) => ({ url, name: `s${i + 1}` })),
    target: { url: target.url },
    strategies,
    ...extra,
  };
  return runMerge(resolvePlan(doc, {}, {}));
}

/** Keys the target already holds, some of the same type as the source's and one of another. */
async function seedConflicts(t: Redis): Promise<void> {
  await t.set('db0:string:raw', 'target');
  await t.hset('db0:hash:small', 'f', 'target', 'only-target', '1');
  await t.rpush('db0:list:small', 'target-element');
  await t.sadd('db0:set:small', 'target-member');
  await t.zadd('db0:zset:small', 100, 'a', 7, 'target-member');
  await t.pexpire('db0:zset:small', 9_000_000);
  await t.set('db0:set:intset', 'a string where the source has a set');
}

/** Big values of the target under the names of the file's big ones. */
async function seedBigConflicts(t: Redis): Promise<void> {
  await t.hset('db0:hash:hashtable', 'field-1', 'target', 'only-target', 'x'.repeat(3000));
  await t.rpush('db0:list:quicklist', 'target-head', 'element-3-xxx', 'target-tail');
  await t.zadd('db0:zset:skiplist', 5, 'm1', 9, 'target-member');
  await t.sadd('db0:set:hashtable', 'member-7', 'target-member');
  await t.set('db0:string:big', 'target string');
  await t.pexpire('db0:set:hashtable', 8_000_000);
}

/** The counters a run reports, without what an already-expired key of the file adds. */
function counters(report: JsonReport, expiredInFile = 0): Record<string, number> {
  const { totals } = report;
  return { ...totals, scanned: totals.scanned - expiredInFile, expired: totals.expired - expiredInFile };
}

/** A server of `build` seeded with every encoding, and a key that expires right after the SAVE. */
async function savedSource(build: TestServer, name: string): Promise<{ live: RedisServer; file: string }> {
  const live = await startRedis({ server: build });
  await seedEveryEncoding(live, false);
  await live.client().set('gone-by-read-time', 'v', 'PX', 300);
  // A function library: named by the run, never copied (kvmerge merges data).
  const library = "#!lua name=kvlib\nredis.register_function('kvf', function() return 1 end)";
  await live.client().call('FUNCTION', 'LOAD', library);
  const file = await saveRdb(live, name);
  await new Promise((resolve) => setTimeout(resolve, 400));
  return { live, file };
}

describe('an RDB file of redis-server 7.0 as a source', () => {
  let live: RedisServer;
  let file: string;
  let fromFile: RedisServer;
  let fromLive: RedisServer;

  beforeAll(async () => {
    ({ live, file } = await savedSource('redis', 'v10.rdb'));
    [fromFile, fromLive] = await Promise.all([startRedis(), startRedis()]);
  });
  afterAll(async () => {
    await Promise.all([live, fromFile, fromLive].map((s) => s?.stop()));
  });

  for (const [title, strategies] of STRATEGIES) {
    it(`leaves the target as the live server does under ${title}, the expired key counted expired`, async () => {
      for (const t of [fromFile.client(), fromLive.client()]) {
        await t.flushall();
        await seedConflicts(t);
      }
      const fileReport = await merge([file], fromFile, strategies);
      const liveReport = await merge([live.url], fromLive, strategies);
      expect(fileReport.outcome).toBe('done');
      // The file is RDB 10, as the target: its payloads are RESTOREd, nothing falls back.
      expect(fileReport.fallbacks).toEqual([]);
      expect(await digest(fromFile)).toBe(await digest(fromLive));
      expect(counters(fileReport, 1)).toEqual(counters(liveReport));
      expect(fileReport.totals.expired).toBe(1);
      expect(fileReport.totals.created).toBeGreaterThan(10);
      expect(await fromFile.client().exists('gone-by-read-time')).toBe(0);
      // Lifetimes: the target's zset keeps or loses its own TTL as it does from the live server.
      const lives = async (r: RedisServer): Promise<boolean> => (await r.client().pttl('db0:zset:small')) > 0;
      expect(await lives(fromFile)).toBe(await lives(fromLive));
    });
  }

  it('reads the db that ?db=N names, with its TTLs, from a file:// URL', async () => {
    const t = fromFile.client();
    await t.flushall();
    const report = await merge([`file://${file}?db=1`], fromFile, { default: 'override' });
    expect(report.outcome).toBe('done');
    expect(await t.exists('db1:hash:small', 'db0:hash:small')).toBe(1);
    const ttl = await t.pttl('db1:hash:small');
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
  });

  it('folds a file and a live source in declared order, and a dry run counts what the run does', async () => {
    const other = await startRedis();
    try {
      const s2 = other.client();
      await s2.rpush('db0:list:small', 'from-live');
      await s2.set('db0:string:raw', 'from-live');
      const t = fromFile.client();
      const strategies = { default: 'merge', string: 'override', stream: 'skip' };
      await t.flushall();
      const dry = await merge([file, other.url], fromFile, strategies, { dryRun: true });
      expect(await t.dbsize()).toBe(0);
      const real = await merge([file, other.url], fromFile, strategies);
      expect(real.outcome).toBe('done');
      expect(dry.totals).toEqual(real.totals);
      expect(real.totals.sourceOverlap).toBe(2);
      expect((await t.lrange('db0:list:small', -1, -1))[0]).toBe('from-live');
      expect(await t.get('db0:string:raw')).toBe('from-live');

      // The other order: the file's values come last.
      await t.flushall();
      await merge([other.url, file], fromFile, strategies);
      expect(await t.lindex('db0:list:small', 0)).toBe('from-live');
      expect(await t.get('db0:string:raw')).toBe('hello');
    } finally {
      await other.stop();
    }
  });

  it("journals the target's priors (--backup): the merge of a file rolls back to the target as it was", async () => {
    const t = fromFile.client();
    await t.flushall();
    await seedConflicts(t);
    const before = await digest(fromFile);
    const backup = fresh('file.journal');
    const strategies = { default: 'merge', string: 'override', stream: 'skip' };
    const report = await merge([file], fromFile, strategies, { safety: { backup } });
    expect(report.outcome).toBe('done');
    expect(await digest(fromFile)).not.toBe(before);
    const undone = await rollback({ backup, target: fromFile.url });
    expect(undone.outcome).toBe('done');
    expect(await digest(fromFile)).toBe(before);
  });

  it('applies what comes before damage found past the pre-read (a file of 1 GiB or more), then stops naming the byte', async () => {
    const whole = await readFile(file);
    // The records without the EOF opcode and CRC-64, then a byte no RDB knows, then a sparse hole up to
    // 1 GiB: too big to be pre-read, so the damage is met while merging.
    const damageAt = whole.length - 9;
    const big = fresh('damaged-1g.rdb');
    await writeFile(big, Buffer.concat([whole.subarray(0, damageAt), Buffer.from([0xf0])]));
    await truncate(big, PRE_READ_BELOW + 4096);
    const t = fromFile.client();
    await t.flushall();
    const report = await merge([big], fromFile, { default: 'override' });
    expect(report.outcome).toBe('failed');
    expect(report.error).toMatch(new RegExp(`damaged-1g\\.rdb: byte ${damageAt}`));
    // Every key of db 0 was read before the damage: all of them are there.
    const complete = fresh('whole.rdb');
    await writeFile(complete, whole);
    const keys = (await t.keys('db0:*')).sort();
    await t.flushall();
    await merge([complete], fromFile, { default: 'override' });
    expect(keys).toEqual((await t.keys('db0:*')).sort());
    expect(keys.length).toBeGreaterThan(10);
  });

  // Values over 2,000 bytes are big: strings, quicklists, hashtables, skiplists and streams of the file
  // go window by window from its bytes (sources/rdb-value-windows.ts), under every strategy and merge
  // rule; where one is created or overridden on the dump path, its bytes are streamed as one payload into
  // one RESTORE instead (issue 20), unless write.payloadMaxBytes is 0.
  const BIG: [string, Strategies, object][] = [
    ['override', { default: 'override' }, {}],
    ['merge, lists appended', { default: 'merge', string: 'override', stream: 'skip' }, {}],
    [
      'merge, lists prepended, zset scores summed, target fields kept',
      { default: 'merge', string: 'override', stream: 'skip' },
      { list: 'prepend', zsetScore: 'sum', hashField: 'target' },
    ],
    ['merge, lists as a union', { default: 'merge', string: 'skip', stream: 'override' }, { list: 'union' }],
  ];
  for (const [title, strategies, mergeRules] of BIG) {
    it.each([
      ['streamed whole where copied', undefined],
      ['in windows', 0],
    ] as const)(
      `copies big values from the file as from the live server (${title}), %s`,
      async (_way, payloadMaxBytes) => {
        for (const r of [fromFile, fromLive]) {
          const t = r.client();
          await t.flushall();
          await seedConflicts(t);
          await seedBigConflicts(t);
          await t.config('RESETSTAT');
        }
        const extra = { write: { bigKeyBytes: 2_000, payloadMaxBytes }, merge: mergeRules };
        const fileReport = await merge([file], fromFile, strategies, extra);
        const liveReport = await merge([live.url], fromLive, strategies, extra);
        expect(fileReport.outcome, JSON.stringify(fileReport.totals)).toBe('done');
        expect(fileReport.totals.failed).toBe(0);
        expect(await digest(fromFile)).toBe(await digest(fromLive));
        expect(counters(fileReport, 1)).toEqual(counters(liveReport));
        const t = fromFile.client();
        expect(await t.llen('db0:list:quicklist')).toBeGreaterThanOrEqual(5_000);
        expect(await t.hlen('db0:hash:hashtable')).toBeGreaterThanOrEqual(2_000);
        // A big value created or overridden is built aside and renamed only in windows.
        const { rename: renames } = await commandCalls(t, ['rename']);
        if (payloadMaxBytes === 0) expect(renames).toBeGreaterThan(0);
        else expect(renames).toBe(0);
      },
    );
  }

  it('takes a value over bigKeyElements in windows where it is written natively, as from the live server (its count from its headers)', async () => {
    const strategies = { default: 'merge', string: 'override', stream: 'skip' };
    // The 2,000-member set (some 20 KB), created: one RESTORE on the dump path (its bytes are under
    // bigKeyBytes), windows built beside the key and renamed over it when written natively.
    for (const mode of ['auto', 'native'] as const) {
      for (const r of [fromFile, fromLive]) {
        await r.client().flushall();
        await seedConflicts(r.client());
      }
      const extra = { write: { bigKeyElements: 100, mode } };
      const watch = await monitor(fromFile);
      const fileReport = await merge([file], fromFile, strategies, extra);
      const commands = await watch.settle();
      watch.close();
      expect(fileReport.outcome).toBe('done');
      const to = (command: string, at: number) =>
        commands.filter((c) => c[0]?.toLowerCase() === command && c[at] === 'db0:set:hashtable');
      expect(to('rename', 2)).toHaveLength(mode === 'native' ? 1 : 0);
      expect(to('restore', 1)).toHaveLength(mode === 'native' ? 0 : 1);
      expect(counters(fileReport, 1)).toEqual(counters(await merge([live.url], fromLive, strategies, extra)));
      expect(await digest(fromFile)).toBe(await digest(fromLive));
    }
  });

  it('journals big values taken from the file: a rollback leaves the target as it was', async () => {
    const t = fromFile.client();
    await t.flushall();
    await seedConflicts(t);
    await seedBigConflicts(t);
    const before = await digest(fromFile);
    const backup = fresh('file-big.journal');
    const strategies = { default: 'merge', string: 'override', stream: 'override' };
    const report = await merge([file], fromFile, strategies, {
      write: { bigKeyBytes: 2_000 },
      safety: { backup },
    });
    expect(report.outcome).toBe('done');
    expect(await digest(fromFile)).not.toBe(before);
    expect((await rollback({ backup, target: fromFile.url })).outcome).toBe('done');
    expect(await digest(fromFile)).toBe(before);
  });

  it('--resume retries the keys of a finished file source that failed under --on-error skip', async () => {
    const t = fromFile.client();
    const strategies = { default: 'merge', string: 'override', stream: 'skip' };
    await t.flushall();
    await seedConflicts(t);
    expect((await merge([file], fromFile, strategies)).outcome).toBe('done');
    const uninterrupted = await digest(fromFile);

    await t.flushall();
    await seedConflicts(t);
    // The target user may not write db0:hash:* (it reads every key): those steps fail with NOPERM.
    await t.call('ACL', 'SETUSER', 'limited', 'reset', 'on', '>pw', '~db0:[^h]*', '%R~*', '+@all');
    const limited = { ...fromFile, url: fromFile.url.replace('redis://', 'redis://limited:pw@') };
    const backup = fresh('file-skip.journal');
    const failed = await merge([file], limited, strategies, { safety: { backup, onError: 'skip' } });
    expect(failed.outcome).toBe('failed');
    expect(failed.totals.failed).toBe(2); // db0:hash:small, db0:hash:hashtable
    await t.call('ACL', 'SETUSER', 'limited', '~*');
    const resumed = await merge([file], limited, strategies, { safety: { backup, resume: true } });
    expect(resumed.outcome, resumed.error).toBe('done');
    expect(await digest(fromFile)).toBe(uninterrupted);
    await t.call('ACL', 'DELUSER', 'limited');
  });

  it('refuses a truncated file with exit 2 naming it and the byte, before any write', async () => {
    const whole = await readFile(file);
    const cut = fresh('cut.rdb');
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const t = fromFile.client();
    await t.flushall();
    const run = await kvmerge([
      'merge',
      '-s',
      live.url,
      '-s',
      cut,
      '-t',
      fromFile.url,
      '--no-backup',
      '--no-progress',
    ]);
    expect(run.code).toBe(2);
    const errors = run.stderr.split('\n').filter((line) => line.includes('cut.rdb: byte'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/byte \d+/);
    expect(await t.dbsize()).toBe(0);
    const missing = await kvmerge(['merge', '-s', `${cut}.nope`, '-t', fromFile.url, '--no-backup']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cut\.rdb\.nope.*ENOENT/);
  });

  it('says its progress in bytes read of the file (--progress-json)', async () => {
    await fromFile.client().flushall();
    const run = await kvmerge(['merge', '-s', file, '-t', fromFile.url, '--no-backup', '--progress-json']);
    expect(run.code).toBe(0);
    const events = run.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const size = (await readFile(file)).length;
    const sourceDone = events.find((e) => e.event === 'source-done');
    expect(sourceDone).toMatchObject({ bytesRead: size, bytesTotal: size });
    expect(events.find((e) => e.event === 'start')).not.toHaveProperty('bytesTotal');
    // The start names what the file holds beside what this source merges.
    const said = events.filter((e) => e.event === 'log').map((e) => String(e.message));
    expect(said).toContainEqual(expect.stringMatching(/RDB 10 file \(redis-ver 7\.0\.\d+, saved /));
    expect(said).toContainEqual(
      expect.stringMatching(/also holds db 1 \(\d+ keys\), db 5 \(\d+ keys\), not merged/),
    );
    expect(said).toContainEqual(expect.stringMatching(/1 function library \(kvlib\).*FUNCTION LOAD/));
  });
});

const NEWER: [TestServer, rdbVersion: number][] = [
  ['redis-7.4.1', 12],
  ['redis-8.0-m01', 12],
  ['valkey-8.0.1', 11],
];

for (const [build, version] of NEWER) {
  describeServer(build, `an RDB file of ${build} (RDB ${version}) into a 7.0 target`, () => {
    let live: RedisServer;
    let file: string;
    let fromFile: RedisServer;
    let fromLive: RedisServer;

    beforeAll(async () => {
      ({ live, file } = await savedSource(build, `v${version}.rdb`));
      [fromFile, fromLive] = await Promise.all([startRedis(), startRedis()]);
    });
    afterAll(async () => {
      await Promise.all([live, fromFile, fromLive].map((s) => s?.stop()));
    });

    it('decodes the values natively and leaves the target as the live server does', async () => {
      for (const t of [fromFile.client(), fromLive.client()]) await seedConflicts(t);
      const strategies = { default: 'merge', string: 'override', stream: 'override' };
      const fileReport = await merge([file], fromFile, strategies);
      const liveReport = await merge([live.url], fromLive, strategies);
      expect(fileReport.outcome).toBe('done');
      expect(fileReport.fallbacks.map((f) => f.reason).join()).toMatch(
        new RegExp(`RDB ${version}, newer than the target's 10`),
      );
      expect(await digest(fromFile)).toBe(await digest(fromLive));
      expect(counters(fileReport, 1)).toEqual(counters(liveReport));
    });

    it('is refused before any write under --mode dump, which cannot carry its payloads', async () => {
      const t = fromFile.client();
      await t.flushall();
      await expect(
        merge([file], fromFile, { default: 'override' }, { write: { mode: 'dump' } }),
      ).rejects.toThrow(
        new RegExp(`RDB ${version}, newer than the target's 10, which --mode dump cannot carry`),
      );
      expect(await t.dbsize()).toBe(0);
    });
  });
}
