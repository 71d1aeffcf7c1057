import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FollowStatus, type JsonReport, openJournal, rollback, runMerge } from '../../src/index.js';
import { kvmerge } from '../harness/cli-run.js';
import { NOTIFY, until, verifyEqual } from '../harness/follow.js';
import { useServers } from '../harness/merge-servers.js';
import { startWriter } from '../harness/writers.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerge-follow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--follow: the target stays the fold of the sources while they take writes', () => {
  const servers = useServers(3, { source: NOTIFY });

  // The strategy tables of the fold's property test, in kind: every merge, every override, every skip
  // (the first holder wins, the target's own data first), and merges with the other merge options.
  it.each([
    ['merge', { hash: 'merge', set: 'merge', zset: 'merge', list: 'merge', string: 'override' }, {}],
    ['override', { default: 'override' }, {}],
    ['skip', { default: 'skip' }, {}],
    [
      'merge (target field wins, zset max, list union, ttl min)',
      { hash: 'merge', set: 'merge', zset: 'merge', list: 'merge', string: 'skip' },
      { hashField: 'target', zsetScore: 'max', list: 'union', ttl: 'min' },
    ],
  ])(
    'writers on three sources during the snapshot and the follow, strategies %s: verify with the journal is equal',
    async (name, strategies, merge) => {
      const backup = join(dir, `writers-${name.replace(/\W+/g, '-')}.journal`);
      // A target with data of its own, so that skip and the prior matter.
      for (let k = 0; k < 50; k += 5) await servers.t.set(`str:${k}`, 'target');
      await servers.t.hset('hash:3', 'f0', 'target');
      // Some data before the snapshot, so that it has something to copy while the writers run.
      for (const [i, s] of servers.s.entries()) {
        for (let k = 0; k < 300; k++) await s.set(`seed:${k}`, `s${i}`);
      }
      const plan = servers.plan({ strategies, merge }, { backup, follow: true });
      const stop = new AbortController();
      const statuses: FollowStatus[] = [];
      const writers = servers.s.map((s, i) =>
        startWriter(s, { seed: 17 + i, flushAfter: i === 1 ? 400 : undefined }),
      );
      const run: Promise<JsonReport> = runMerge(plan, {
        signal: stop.signal,
        followStatus: (s) => statuses.push(s),
      });
      await new Promise((r) => setTimeout(r, 2_500));
      await Promise.all(writers.map((w) => w.stop()));
      // Every TTL the writers set (at most 550 ms) runs out while the follow still runs: an expiry is a
      // change like any other, and one after the follow stopped would be a difference verify rightly names.
      await new Promise((r) => setTimeout(r, 1_500));
      for (const [i, s] of servers.s.entries()) await s.set(`marker:${i}`, 'end');
      await until(
        async () => (await servers.t.exists('marker:0', 'marker:1', 'marker:2')) === 3,
        20_000,
        'the markers on the target',
      );
      stop.abort();
      const report = await run;
      expect(report.outcome).toBe('done');
      expect(report.follow?.caughtUp).toBe(true);
      expect(report.follow?.refolded).toBeGreaterThan(0);
      expect(report.follow?.failed).toBe(0);
      expect(writers.every((w) => w.sent > 100)).toBe(true);

      await verifyEqual(plan, backup);
    },
  );

  it('a stopped follow goes on with --resume: changes made while it was stopped are found by a pass over every source', async () => {
    const backup = join(dir, 'resume.journal');
    await servers.s[0]!.set('a', '1');
    await servers.s[1]!.hset('h', 'f', 'x');
    const config = { strategies: { hash: 'merge' } };
    const stop = new AbortController();
    const said: string[] = [];
    const first = runMerge(servers.plan(config, { backup, follow: true }), {
      signal: stop.signal,
      log: (line) => said.push(line),
    });
    // A stop during the snapshot interrupts it (resumed as any run); this one stops the follow.
    await until(async () => said.some((l) => l.includes('caught up')), 20_000, 'the follow caught up');
    stop.abort();
    expect((await first).outcome).toBe('done');

    // While nothing follows: a delete, a new key, a new field; none of them is ever notified again.
    await servers.s[0]!.del('a');
    await servers.s[2]!.set('b', '2');
    await servers.s[1]!.hset('h', 'g', 'y');
    const lines: string[] = [];
    const resumed = await runMerge(servers.plan(config, { backup, resume: true, untilCaughtUp: true }), {
      log: (line) => lines.push(line),
    });
    expect(resumed.outcome).toBe('done');
    expect(resumed.follow?.caughtUp).toBe(true);
    expect(lines.some((l) => /reconciliation pass over source s1: resumed/.test(l))).toBe(true);
    expect(await servers.t.exists('a')).toBe(0);
    expect(await servers.t.get('b')).toBe('2');
    expect(await servers.t.hgetall('h')).toEqual({ f: 'x', g: 'y' });
  });

  it('--until-caught-up ends once the snapshot is done and nothing is pending', async () => {
    const backup = join(dir, 'until.journal');
    await servers.s[0]!.set('k', 'v');
    const report = await runMerge(servers.plan({}, { backup, untilCaughtUp: true }));
    expect(report.outcome).toBe('done');
    expect(report.follow?.caughtUp).toBe(true);
    expect(await servers.t.get('k')).toBe('v');
    const records: string[] = [];
    for await (const entry of (await openJournal(backup)).firstPriors()) records.push(entry.key.toString());
    expect(records).toEqual(['k']);
  });

  it('the CLI: SIGTERM during the follow applies what is pending and exits 0 with the report', async () => {
    const backup = join(dir, 'sigterm.journal');
    await servers.s[0]!.set('k', 'v');
    const sources = servers.sources.flatMap((s) => ['-s', s.url]);
    const run = await kvmerge(
      [
        'merge',
        ...sources,
        '-t',
        servers.target.url,
        '--follow',
        '--backup',
        backup,
        '--json',
        '--no-progress',
      ],
      { journal: backup, afterMs: 6_000, signal: 'SIGTERM' },
    );
    expect(run.stderr).toContain('caught up');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.outcome).toBe('done');
    expect(report.follow?.caughtUp).toBe(true);
    expect(await servers.t.get('k')).toBe('v');
  });

  it('--rate N holds the keys read a second within 10% of N', async () => {
    for (const [i, s] of servers.s.entries()) {
      const p = s.pipeline();
      for (let k = 0; k < 2_000; k++) p.set(`r${i}:${k}`, 'x');
      await p.exec();
    }
    const report = await runMerge(servers.plan({}, { noBackup: true, rate: 2_000 }));
    expect(report.outcome).toBe('done');
    // 6,000 keys at 2,000 a second: 3 s of reading (the bucket starts empty), plus connecting.
    const perSecond = (6_000 * 1000) / report.durationMs;
    expect(perSecond).toBeLessThanOrEqual(2_000 * 1.1);
    expect(perSecond).toBeGreaterThanOrEqual(2_000 * 0.8);
  });

  it('--max-source-latency holds the follow back while a source is slow, and the status line says why', async () => {
    const backup = join(dir, 'latency.journal');
    const said: string[] = [];
    const stop = new AbortController();
    const run = runMerge(servers.plan({}, { backup, follow: true, maxSourceLatency: 50 }), {
      signal: stop.signal,
      log: (line) => said.push(line),
    });
    await until(async () => said.some((l) => l.includes('caught up')), 20_000, 'the follow caught up');
    // s2 answers nothing for 300 ms at a time while s1 takes writes: its p99 is far over 50 ms.
    const slow = servers.sources[1]!.client();
    let slowing = true;
    const sleeper = (async () => {
      while (slowing) await slow.call('DEBUG', 'SLEEP', '0.3').catch(() => undefined);
    })();
    for (let k = 0; k < 200; k++) {
      await servers.s[0]!.set(`slow:${k}`, 'v');
      await new Promise((r) => setTimeout(r, 30));
    }
    await until(
      async () => said.some((l) => /held back: source s2 p99 \d+ ms > 50 ms/.test(l)),
      15_000,
      'held back',
    );
    expect(await servers.t.exists('slow:199')).toBe(0);
    slowing = false;
    await sleeper;
    // Once the slow samples leave the window (10 s), the follow goes on and catches up.
    await until(async () => (await servers.t.exists('slow:199')) === 1, 30_000, 'the follow going on');
    stop.abort();
    expect((await run).outcome).toBe('done');
  }, 60_000);

  it('rollback after a follow puts back what the target held before the run, keys first written by the follow included', async () => {
    const backup = join(dir, 'rollback.journal');
    await servers.t.set('kept', 'target');
    await servers.t.hset('h', 'mine', 't');
    await servers.s[0]!.hset('h', 'f', 's');
    const before = await servers.t.keys('*');
    const said: string[] = [];
    const stop = new AbortController();
    const run = runMerge(
      servers.plan({ strategies: { hash: 'merge', string: 'override' } }, { backup, follow: true }),
      {
        signal: stop.signal,
        log: (line) => said.push(line),
      },
    );
    await until(() => said.some((l) => l.includes('caught up')), 20_000, 'the follow caught up');
    // Changes only the follow writes: a key it creates, one it overrides, a field it merges.
    await servers.s[1]!.set('new', 'x');
    await servers.s[2]!.set('kept', 'source');
    await servers.s[0]!.hset('h', 'g', 's');
    await until(
      async () =>
        (await servers.t.hget('h', 'g')) === 's' &&
        (await servers.t.get('kept')) === 'source' &&
        (await servers.t.exists('new')) === 1,
      20_000,
      'the changes on the target',
    );
    stop.abort();
    expect((await run).outcome).toBe('done');

    await rollback({ backup, target: servers.target.url });
    expect((await servers.t.keys('*')).sort()).toEqual(before.sort());
    expect(await servers.t.get('kept')).toBe('target');
    expect(await servers.t.hgetall('h')).toEqual({ mine: 't' });
  });
});
