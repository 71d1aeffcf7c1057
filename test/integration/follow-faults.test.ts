/**
 * `--follow` (SPEC §9) under faults: a subscription killed, a source restarted, a burst past
 * --follow-max-pending, a source without keyspace notifications, a Pika source (interval passes), and
 * the CLI's --until-caught-up and --dry-run refusal. Each cause its fault, then checks what survives:
 * the reconciliation pass named in the log and, where the follow ran, verify with the journal equal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalRedis } from '../../src/demo/local-server.js';
import { ConfigError, type JsonReport, type MergePlan, resolvePlan, runMerge } from '../../src/index.js';
import { kvmerge } from '../harness/cli-run.js';
import { NOTIFY, until, verifyEqual } from '../harness/follow.js';
import { useServers } from '../harness/merge-servers.js';
import { startRedis } from '../harness/redis.js';
import { describeServer } from '../harness/servers.js';
import { startWriter } from '../harness/writers.js';

const STRATEGIES = {
  strategies: { hash: 'merge', set: 'merge', zset: 'merge', list: 'merge', string: 'override' },
};
const dir = mkdtempSync(join(tmpdir(), 'kvmerge-follow-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A follow started through the library, its log kept. */
function follow(plan: MergePlan): { run: Promise<JsonReport>; stop: AbortController; log: string[] } {
  const stop = new AbortController();
  const log: string[] = [];
  const run = runMerge(plan, { signal: stop.signal, log: (line) => log.push(line) });
  return { run, stop, log };
}

/** Waits for the follow's first line after the snapshot. */
async function snapshotDone(log: string[]): Promise<void> {
  await until(() => log.some((l) => l.startsWith('follow: snapshot done')), 30_000, 'the snapshot to end');
}

/**
 * Ends a follow: a marker on each source, seen on the target, then the stop; the report is done and
 * verify with the journal's priors is equal.
 */
async function endAndVerify(
  plan: MergePlan,
  backup: string,
  f: { run: Promise<JsonReport>; stop: AbortController; log: string[] },
  sources: Redis[],
  target: Redis,
): Promise<JsonReport> {
  for (const [i, s] of sources.entries()) await s.set(`marker:${i}`, 'end');
  await until(
    async () => (await target.exists(...sources.map((_, i) => `marker:${i}`))) === sources.length,
    30_000,
    'the markers on the target',
  );
  f.stop.abort();
  const report = await f.run;
  expect(report.outcome, `${report.error}\n${f.log.join('\n')}`).toBe('done');
  expect(report.follow?.failed).toBe(0);
  await verifyEqual(plan, backup);
  return report;
}

describe('--follow under faults on redis-server sources', () => {
  const servers = useServers(2, { source: NOTIFY });

  it('CLIENT KILL TYPE pubsub on a source while a writer runs: a pass over it, then equal', async () => {
    const backup = join(dir, 'kill.journal');
    for (const [i, s] of servers.s.entries()) for (let k = 0; k < 200; k++) await s.set(`seed:${k}`, `s${i}`);
    const plan = servers.plan(STRATEGIES, { backup, follow: true });
    const f = follow(plan);
    await snapshotDone(f.log);
    const writers = servers.s.map((s, i) => startWriter(s, { seed: 31 + i }));
    await sleep(500);
    // The kill and, right behind it in one pipeline, writes no subscription is there to hear: only
    // the pass over s1 can bring them to the target.
    const cut = servers.s[0]!.pipeline().call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    for (let k = 0; k < 200; k++) cut.set(`unheard:${k}`, `u${k}`);
    const replies = (await cut.exec())!;
    expect(Number(replies[0]![1])).toBeGreaterThanOrEqual(1);
    await sleep(1_500);
    await Promise.all(writers.map((w) => w.stop()));
    expect(writers.every((w) => w.sent > 50)).toBe(true);
    await sleep(1_500);
    await until(
      () =>
        f.log.some((l) => /reconciliation pass over source s1: .*dropped.*: \d+ key\(s\) compared/.test(l)),
      20_000,
      'the pass over s1 to end',
    );
    const report = await endAndVerify(plan, backup, f, servers.s, servers.t);
    expect(f.log.some((l) => /reconciliation pass over source s1: .*dropped/.test(l))).toBe(true);
    expect(report.follow?.passes.some((p) => p.source === 's1' && /dropped/.test(p.reason))).toBe(true);
    expect(report.follow?.passes.some((p) => p.source === 's2')).toBe(false);
    const unheard = servers.t.pipeline();
    for (let k = 0; k < 200; k++) unheard.get(`unheard:${k}`);
    const got = (await unheard.exec())!.map(([, v]) => v);
    expect(got.filter((v, k) => v !== `u${k}`)).toEqual([]);
  });

  it('a burst past --follow-max-pending 50 (3,000 SETs on distinct keys): a pass, the target exact', async () => {
    const backup = join(dir, 'burst.journal');
    const plan = servers.plan(STRATEGIES, { backup, follow: true, followMaxPending: 50 });
    const f = follow(plan);
    await snapshotDone(f.log);
    const s = servers.s[0]!;
    // As fast as the server takes them: 3,000 SETs in flight at once, in one pipeline.
    const p = s.pipeline();
    for (let k = 0; k < 3_000; k++) p.set(`burst:${k}`, `v${k}`);
    await p.exec();
    await sleep(1_500);
    const report = await endAndVerify(plan, backup, f, servers.s, servers.t);
    expect(
      f.log.some((l) =>
        /reconciliation pass over source s1: more than 50 keys pending \(--follow-max-pending\)/.test(l),
      ),
    ).toBe(true);
    expect(report.follow?.passes.some((p) => /more than 50 keys pending/.test(p.reason))).toBe(true);
    const t = servers.t.pipeline();
    for (let k = 0; k < 3_000; k++) t.get(`burst:${k}`);
    const values = (await t.exec())!.map(([, v]) => v);
    expect(values.filter((v, k) => v !== `v${k}`)).toEqual([]);
  });
});

describe('--follow: a source restarted during the follow', () => {
  it('an empty server on its port and dir: a pass over it, its lost keys folded out, then equal', async () => {
    const backup = join(dir, 'restart.journal');
    const target = await startRedis();
    const first = await startLocalRedis(NOTIFY);
    let second: Awaited<ReturnType<typeof startLocalRedis>> | undefined;
    const { Redis } = await import('ioredis');
    const s = new Redis({ port: first.port, maxRetriesPerRequest: null });
    s.on('error', () => {});
    try {
      const t = target.client();
      for (let k = 0; k < 200; k++) await s.set(`seed:${k}`, 'source');
      for (let k = 0; k < 100; k++) await t.set(`seed:${k}`, 'target');
      const plan = resolvePlan(
        {
          version: 1,
          sources: [{ url: first.url, name: 's1' }],
          target: { url: target.url },
          ...STRATEGIES,
        },
        { backup, follow: true },
        {},
      );
      const f = follow(plan);
      await snapshotDone(f.log);
      expect(await t.get('seed:150')).toBe('source');
      const writer = startWriter(s, { seed: 57 });
      await sleep(500);
      process.kill(first.pid, 'SIGKILL');
      second = await startLocalRedis({ port: first.port, args: [...NOTIFY.args, '--dir', first.dir] });
      await sleep(1_500);
      await writer.stop();
      expect(writer.sent).toBeGreaterThan(50);
      await sleep(1_500);
      await until(
        () =>
          f.log.some((l) => /reconciliation pass over source s1: .*(restarted|dropped).*compared/.test(l)),
        20_000,
        'the pass over s1 to end',
      );
      await endAndVerify(plan, backup, f, [s], t);
      expect(f.log.some((l) => /reconciliation pass over source s1: .*(restarted|dropped)/.test(l))).toBe(
        true,
      );
      // The restarted server is empty: a seed key only the source had is gone from the fold, one the
      // target had before is back at its prior.
      expect(await s.exists('seed:150')).toBe(0);
      expect(await t.exists('seed:150')).toBe(0);
      expect(await t.get('seed:50')).toBe('target');
    } finally {
      s.disconnect();
      await second?.stop();
      await first.stop();
      await target.stop();
    }
  });
});

describe('--follow: a source without notify-keyspace-events', () => {
  const servers = useServers(1);

  it('is refused before any write (exit 2, the CONFIG SET to run); --set-notify-config sets it and runs', async () => {
    const s = servers.s[0]!;
    await s.config('SET', 'notify-keyspace-events', '');
    for (let k = 0; k < 50; k++) await s.set(`k:${k}`, `${k}`);
    const refused = runMerge(
      servers.plan(STRATEGIES, { backup: join(dir, 'notify-1.journal'), follow: true }),
    );
    const err = await refused.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    expect((err as ConfigError).message).toContain('CONFIG SET notify-keyspace-events');
    expect(await servers.t.dbsize()).toBe(0);
    expect(((await s.config('GET', 'notify-keyspace-events')) as string[])[1]).toBe('');

    const report = await runMerge(
      servers.plan(STRATEGIES, {
        backup: join(dir, 'notify-2.journal'),
        follow: true,
        untilCaughtUp: true,
        setNotifyConfig: true,
      }),
    );
    expect(report.outcome, report.error).toBe('done');
    expect(report.follow?.caughtUp).toBe(true);
    expect(await servers.t.dbsize()).toBe(50);
    const have = ((await s.config('GET', 'notify-keyspace-events')) as string[])[1]!;
    expect(have).toContain('E');
    const classes = have.replace('A', 'g$lshzxet');
    for (const c of 'g$lshzxet') expect(classes, `${c} in ${have}`).toContain(c);
  });
});

describeServer(
  'pika-4.0.1',
  '--follow: a Pika 4 source (no notifications, a pass every --follow-interval)',
  () => {
    const servers = useServers(1, { source: { server: 'pika-4.0.1' } });

    it('a key changed on Pika after the snapshot reaches the target after an interval pass', async () => {
      const backup = join(dir, 'pika.journal');
      const s = servers.s[0]!;
      for (let k = 0; k < 50; k++) await s.set(`p:${k}`, 'before');
      const plan = servers.plan(
        { strategies: { default: 'override' } },
        { backup, follow: true, followInterval: 2 },
      );
      const f = follow(plan);
      await snapshotDone(f.log);
      expect(await servers.t.get('p:7')).toBe('before');
      await s.set('p:7', 'after');
      await s.set('p:new', 'added');
      await until(
        async () => (await servers.t.get('p:7')) === 'after' && (await servers.t.get('p:new')) === 'added',
        20_000,
        'the changes on the target',
      );
      await endAndVerify(plan, backup, f, [s], servers.t);
      expect(f.log.some((l) => /reconciliation pass over source s1: a pass every 2 s/.test(l))).toBe(true);
      expect(f.log.some((l) => /Pika has no keyspace notifications/.test(l))).toBe(true);
    });
  },
);

describe('--follow on the command line', () => {
  const servers = useServers(1, { source: NOTIFY });

  it('--until-caught-up exits 0 after the snapshot with nothing pending, saying caught up', async () => {
    for (let k = 0; k < 100; k++) await servers.s[0]!.set(`c:${k}`, `${k}`);
    const backup = join(dir, 'cli.journal');
    const run = await kvmerge([
      'merge',
      '-s',
      servers.sources[0]!.url,
      '-t',
      servers.target.url,
      '--follow',
      '--until-caught-up',
      '--backup',
      backup,
      '--no-progress',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(`${run.stdout}\n${run.stderr}`).toMatch(/caught up/);
    expect(await servers.t.dbsize()).toBe(100);
  });

  it('--follow --dry-run exits 2 with one line', async () => {
    const run = await kvmerge([
      'merge',
      '-s',
      servers.sources[0]!.url,
      '-t',
      servers.target.url,
      '--follow',
      '--dry-run',
    ]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^kvmerge: --follow: .*--dry-run/);
    expect(await servers.t.dbsize()).toBe(0);
  });
});
