/**
 * Redis behind Sentinel (SPEC §7) as a target and as a source, against a real master set: a master,
 * a replica and three sentinels (test/harness/sentinel.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRedis } from '../../src/demo/local-server.js';
import {
  ConnectionError,
  type JsonReport,
  type RunEvent,
  RunEvents,
  resolvePlan,
  runMerge,
} from '../../src/index.js';
import type { ProgressSink } from '../../src/report/types.js';
import { kvmerge } from '../harness/cli-run.js';
import { hash, list, normalize, put, readValue, set, str, type Value, zset } from '../harness/data.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { type SentinelSet, startSentinelSet, throttled } from '../harness/sentinel.js';

let sentinel: SentinelSet;
let plain: RedisServer;

beforeAll(async () => {
  [sentinel, plain] = await Promise.all([startSentinelSet(), startRedis()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([sentinel?.stop(), plain?.stop()]);
});

afterEach(async () => {
  await (await sentinel.master()).flushall();
  await plain.client().flushall();
  await sentinel.synced();
});

const STRATEGIES = { string: 'override', hash: 'merge', set: 'merge', zset: 'merge', list: 'merge' };

/** Holdings before the run: the `into` side holds some keys, the `from` side the incoming values. */
const BEFORE: Record<string, Value> = {
  'ov:s': str('old'),
  'mg:h': hash({ a: '1', b: '1' }),
  'mg:set': set('a', 'b'),
  'mg:z': zset(['a', 1], ['b', 1]),
  'mg:l': list('t1', 't2'),
};
const INCOMING: Record<string, Value> = {
  'new:s': str('fresh'),
  'new:h': hash({ f: 'v' }),
  'ov:s': str('new'),
  'mg:h': hash({ b: '2', c: '2' }),
  'mg:set': set('b', 'c'),
  'mg:z': zset(['b', 5], ['c', 2]),
  'mg:l': list('s1', 's2'),
};
const EXPECTED: Record<string, Value> = {
  'new:s': str('fresh'),
  'new:h': hash({ f: 'v' }),
  'ov:s': str('new'),
  'mg:h': hash({ a: '1', b: '2', c: '2' }),
  'mg:set': set('a', 'b', 'c'),
  'mg:z': zset(['a', 1], ['b', 5], ['c', 2]),
  'mg:l': list('t1', 't2', 's1', 's2'),
};

async function merge(
  sources: string[],
  target: string,
  extra: Record<string, unknown> = {},
  progress?: ProgressSink,
  events?: RunEvents,
): Promise<JsonReport> {
  const doc = {
    version: 1,
    sources: sources.map((url, i) => ({ url, name: `s${i + 1}` })),
    target: { url: target },
    strategies: STRATEGIES,
    ...extra,
  };
  return runMerge(resolvePlan(doc, {}, {}), { progress, ...(events ? { events } : {}) });
}

describe('a Sentinel-managed master', () => {
  it('is written as a target: create, override and merge of hash, set, zset and list, replicated', async () => {
    const master = await sentinel.master();
    for (const [k, v] of Object.entries(BEFORE)) await put(master, k, v);
    for (const [k, v] of Object.entries(INCOMING)) await put(plain.client(), k, v);

    const report = await merge([plain.url], sentinel.url(0));

    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ created: 2, overridden: 1, merged: 4, failed: 0 });
    expect(report.target.url).toBe(sentinel.url(0));
    // Every step is on the master and, since the writer WAITs for it, already on the replica.
    const replica = sentinel.servers.find((s) => s.port !== Number(master.options.port))!.client();
    for (const [k, v] of Object.entries(EXPECTED)) {
      expect(normalize(await readValue(master, k)), k).toEqual(normalize(v));
      expect(normalize(await readValue(replica, k)), `${k} on the replica`).toEqual(normalize(v));
    }
  });

  it('is read as a source: create, override and merge of hash, set, zset and list', async () => {
    const master = await sentinel.master();
    for (const [k, v] of Object.entries(BEFORE)) await put(plain.client(), k, v);
    for (const [k, v] of Object.entries(INCOMING)) await put(master, k, v);

    const report = await merge([sentinel.url(0)], plain.url);

    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ created: 2, overridden: 1, merged: 4, failed: 0 });
    for (const [k, v] of Object.entries(EXPECTED)) {
      expect(normalize(await readValue(plain.client(), k)), k).toEqual(normalize(v));
    }
  });

  it('is read by a read-only user (no ROLE) and refuses a target user without ROLE and WAIT, exit 2', async () => {
    const users = ['reader on >pw ~* &* +@read', 'writer on >pw ~* &* +@read +@write +multi +exec +discard'];
    for (const server of sentinel.servers) {
      for (const user of users) await server.client().call('ACL', 'SETUSER', ...user.split(' '));
    }
    try {
      const master = await sentinel.master();
      for (const [k, v] of Object.entries(INCOMING)) await put(master, k, v);
      const asUser = (user: string): string =>
        sentinel.url(0).replace('redis+sentinel://', `redis+sentinel://${user}:pw@`);

      const report = await merge([asUser('reader')], plain.url);
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals).toMatchObject({ created: Object.keys(INCOMING).length, failed: 0 });

      const refused = await merge([plain.url], asUser('writer')).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(ConnectionError);
      expect((refused as ConnectionError).exitCode).toBe(2);
      expect((refused as Error).message).toMatch(/may not run ROLE .*\+role \+wait/);
      expect((refused as Error).message).not.toContain(':pw@');
    } finally {
      for (const server of sentinel.servers) {
        await server.client().call('ACL', 'DELUSER', 'reader', 'writer');
      }
    }
  });

  it('checks a write that the replica did not confirm in time instead of sending it again: lists appended once', async () => {
    const KEYS = 400;
    const master = await sentinel.master();
    const source = plain.client();
    for (let j = 0; j < KEYS; j++) {
      await master.rpush(`l:${j}`, 'base');
      await source.rpush(`l:${j}`, `a${j}`);
    }
    await sentinel.synced();
    const replicaServer = sentinel.servers.find((s) => s.port !== Number(master.options.port))!;
    // The replica stops reading for 4 s: every WAIT of the run's first batches times out, though the
    // master has applied the appends and the replica will have them once it wakes.
    const asleep = replicaServer.client().call('DEBUG', 'SLEEP', '4');
    await new Promise((r) => setTimeout(r, 100));

    const report = await merge([plain.url], sentinel.url(0), { write: { batchSize: 50, concurrency: 2 } });
    await asleep;

    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ merged: KEYS, failed: 0 });
    for (let j = 0; j < KEYS; j++) {
      expect(await master.lrange(`l:${j}`, 0, -1), `l:${j}`).toEqual(['base', `a${j}`]);
    }
  }, 60_000);

  it('follows a failover during a run: every list appended once, none lost, and the run says done', async () => {
    const KEYS = 20_000;
    const master = await sentinel.master();
    const source = plain.client();
    for (let i = 0; i < KEYS; i += 1000) {
      const t = master.pipeline();
      const s = source.pipeline();
      for (let j = i; j < i + 1000; j++) {
        t.rpush(`l:${j}`, 'base');
        s.rpush(`l:${j}`, `a${j}`, `b${j}`);
      }
      await Promise.all([t.exec(), s.exec()]);
    }
    await sentinel.synced();
    const before = await sentinel.currentMaster();

    // The failover starts once a fifth of the keys are merged, and must end before the run does.
    let failover: Promise<RedisServer> | undefined;
    let finished = false;
    const progress: ProgressSink = {
      sourceStarted() {},
      update(_index, done) {
        if (done >= KEYS / 5 && !failover) failover = throttled([source], sentinel.failover());
      },
      sourceFinished() {},
      stop() {},
    };
    const events = new RunEvents();
    const said: RunEvent[] = [];
    events.on((e) => said.push(e));
    const run = merge(
      [plain.url],
      sentinel.url(0),
      { write: { batchSize: 20, concurrency: 2 } },
      progress,
      events,
    ).finally(() => {
      finished = true;
    });
    // The failover resolves once the replica is promoted; the run must still be going then.
    await expect.poll(() => failover, { timeout: 60_000 }).toBeDefined();
    const after = await failover!;
    expect(after).not.toBe(before);
    expect(finished, 'the run ended before the failover: slow it down').toBe(false);
    const report = await run;

    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ scanned: KEYS, merged: KEYS, failed: 0 });
    // The switch was said on the run's event channel as it happened (the CLI logs it live).
    expect(
      said.filter((e) => e.kind === 'failover'),
      JSON.stringify(said),
    ).toContainEqual({
      kind: 'failover',
      server: expect.stringMatching(/^target /),
      from: `127.0.0.1:${before.port}`,
      to: `127.0.0.1:${after.port}`,
    });
    // The old master is demoted and resynchronised from the new one: what it alone had accepted is
    // gone, so the new master holds the outcome.
    await sentinel.synced();
    const now = await sentinel.master();
    expect(Number(now.options.port)).toBe(after.port);
    const wrong: string[] = [];
    for (let i = 0; i < KEYS; i += 1000) {
      const p = now.pipeline();
      for (let j = i; j < i + 1000; j++) p.lrange(`l:${j}`, 0, -1);
      const replies = (await p.exec()) as [Error | null, string[]][];
      replies.forEach(([, value], n) => {
        const j = i + n;
        if (JSON.stringify(value) !== JSON.stringify(['base', `a${j}`, `b${j}`]))
          wrong.push(`l:${j}=${JSON.stringify(value)}`);
      });
    }
    expect(wrong.slice(0, 5), `${wrong.length} keys differ`).toEqual([]);
  }, 180_000);
});

describe('big keys into a Sentinel-managed master', () => {
  it('count each window once it is confirmed: a failover mid-copy leaves every list appended once, every hash overridden and every zset summed once', async () => {
    const KEYS = 4;
    const ELEMENTS = 120_000;
    const master = await sentinel.master();
    const source = plain.client();
    const pad = 'x'.repeat(40);
    for (let k = 0; k < KEYS; k++) {
      await master.rpush(`big:l:${k}`, 'base');
      await master.hset(`big:h:${k}`, 'old', '1', 'f0', 'stale');
      await master.zadd(`big:z:${k}`, 1, 'm0', 1, 'only-target');
      for (let i = 0; i < ELEMENTS; i += 10_000) {
        const range = Array.from({ length: 10_000 }, (_, n) => i + n);
        await source.rpush(`big:l:${k}`, ...range.map((n) => `e${n}${pad}`));
        await source.hset(`big:h:${k}`, ...range.flatMap((n) => [`f${n}`, `v${n}${pad}`]));
        await source.zadd(`big:z:${k}`, ...range.flatMap((n) => [n % 7, `m${n}${pad.slice(0, n % 3)}`]));
      }
    }
    await sentinel.synced();
    const before = await sentinel.currentMaster();

    // The failover starts once the first big key is being written (a temporary key or a grown list).
    let failover: Promise<RedisServer> | undefined;
    let finished = false;
    const run = merge([plain.url], sentinel.url(0), {
      strategies: { ...STRATEGIES, hash: 'override' },
      merge: { zsetScore: 'sum', list: 'append' },
      write: { bigKeyElements: 1000, bigKeyBytes: 100_000, concurrency: 2 },
    }).finally(() => {
      finished = true;
    });
    const watcher = await sentinel.master();
    while (!failover && !finished) {
      const temps = (await watcher.keys('kvmerge-tmp:*')).length;
      const lengths = await Promise.all(Array.from({ length: KEYS }, (_, k) => watcher.llen(`big:l:${k}`)));
      if (temps > 0 || lengths.some((n) => n > 1)) failover = throttled([source], sentinel.failover());
      else await new Promise((r) => setTimeout(r, 10));
    }
    watcher.disconnect();
    expect(failover, 'the run ended before any big key was written').toBeDefined();
    const after = await failover!;
    expect(after).not.toBe(before);
    expect(finished, 'the run ended before the failover: make the keys bigger').toBe(false);
    const report = await run;

    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ overridden: KEYS, merged: 2 * KEYS, failed: 0 });
    await sentinel.synced();
    const now = await sentinel.master();
    expect(Number(now.options.port)).toBe(after.port);
    for (let k = 0; k < KEYS; k++) {
      const items = await now.lrange(`big:l:${k}`, 0, -1);
      expect(items.length, `big:l:${k} length`).toBe(ELEMENTS + 1);
      expect(items[0]).toBe('base');
      expect(
        items.every((v, i) => i === 0 || v === `e${i - 1}${pad}`),
        `big:l:${k} in order`,
      ).toBe(true);
      const fields = await now.hgetall(`big:h:${k}`);
      expect(Object.keys(fields).length, `big:h:${k} fields`).toBe(ELEMENTS);
      expect(fields.old).toBeUndefined();
      expect(Object.entries(fields).every(([f, v]) => v === `v${f.slice(1)}${pad}`)).toBe(true);
      const scores = await now.zrange(`big:z:${k}`, 0, -1, 'WITHSCORES');
      const got = new Map<string, number>();
      for (let i = 0; i < scores.length; i += 2) got.set(scores[i]!, Number(scores[i + 1]));
      expect(got.size, `big:z:${k} members`).toBe(ELEMENTS + 1);
      expect(got.get('only-target')).toBe(1);
      // m0 was on both sides: 1 + 0, summed once.
      expect(got.get('m0')).toBe(1);
      const wrong = [...got].filter(([m, score]) => {
        if (m === 'only-target' || m === 'm0') return false;
        const n = Number(/^m(\d+)/.exec(m)![1]);
        return score !== n % 7;
      });
      expect(wrong.slice(0, 3), `big:z:${k} scores summed once`).toEqual([]);
    }
    expect(await now.keys('kvmerge-tmp:*')).toEqual([]);
  }, 180_000);
});

describe('a server the sentinels name that is not the master', () => {
  it('is refused as a target before anything is written (ROLE says slave), exit 2 naming it', async () => {
    // A sentinel of its own that names the set's replica as the master of "stale": what a sentinel
    // that has not yet learned of a failover says of a demoted master.
    const master = await sentinel.currentMaster();
    const replica = sentinel.servers.find((s) => s !== master)!;
    const stale = await startLocalRedis({
      args: ['--sentinel', 'monitor', 'stale', '127.0.0.1', String(replica.port), '1', '--sentinel'],
    });
    try {
      await put(plain.client(), 'k', str('v'));
      const url = `redis+sentinel://127.0.0.1:${stale.port}/stale/0`;
      const run = await kvmerge(['merge', '-s', plain.url, '-t', url, '--no-progress']);
      expect(run.code, run.stderr).toBe(2);
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines, run.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`127\\.0\\.0\\.1:${replica.port}.*not the master`));
      expect(await (await sentinel.master()).exists('k')).toBe(0);
    } finally {
      await stale.stop();
    }
  });
});

describe('a bad Sentinel URL', () => {
  it.each([
    [
      'an unknown master name',
      () => sentinel.url(0).replace('mymaster', 'nosuchmaster'),
      /knows a master named "nosuchmaster"/,
    ],
    [
      'sentinels that are down',
      () => 'redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster/0',
      /cannot reach any sentinel/,
    ],
    ['a malformed URL', () => 'redis+sentinel://127.0.0.1:26379', /missing master name/],
  ])('is exit 2 with one line naming the problem: %s', async (_what, url, message) => {
    const run = await kvmerge(['merge', '-s', plain.url, '-t', url(), '--no-progress']);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });
});

describe('sentinels with a password of their own', () => {
  it('are asked with ?sentinelPassword=…, and without it the run is exit 2 naming the fix', async () => {
    const master = await startRedis({ password: 'master-pw' });
    const guard = await startLocalRedis({
      password: 'sentinel-pw',
      args: ['--sentinel', 'monitor', 'pw', '127.0.0.1', String(master.port), '1'].concat([
        '--sentinel',
        'auth-pass',
        'pw',
        'master-pw',
        '--sentinel',
      ]),
    });
    try {
      await put(plain.client(), 'k', str('v'));
      const url = `redis+sentinel://:master-pw@127.0.0.1:${guard.port}/pw/0`;

      const report = await merge([plain.url], `${url}?sentinelPassword=sentinel-pw`);
      expect(report.outcome, report.error).toBe('done');
      expect(report.target.url).toBe(
        `redis+sentinel://:***@127.0.0.1:${guard.port}/pw/0?sentinelPassword=***`,
      );
      expect(await master.client().get('k')).toBe('v');

      const refused = await merge([plain.url], url).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(ConnectionError);
      expect((refused as Error).message).toMatch(/refused the credentials .*sentinelPassword/);
      expect((refused as Error).message).not.toMatch(/master-pw|sentinel-pw/);
    } finally {
      await Promise.all([guard.stop(), master.stop()]);
    }
  });
});

// Last: it kills the master, and the set goes on with one server.
describe('a Sentinel-managed source', () => {
  it('is read to the end when its master dies mid-run: every key arrives, and the run says done', async () => {
    const KEYS = 20_000;
    const master = await sentinel.master();
    for (let i = 0; i < KEYS; i += 1000) {
      const p = master.pipeline();
      for (let j = i; j < i + 1000; j++) p.hset(`h:${j}`, 'f', `v${j}`);
      await p.exec();
    }
    await sentinel.synced();
    const before = await sentinel.currentMaster();

    let failover: Promise<RedisServer> | undefined;
    let finished = false;
    const progress: ProgressSink = {
      sourceStarted() {},
      update(_index, done) {
        if (done >= KEYS / 5 && !failover) failover = sentinel.killMaster(before);
      },
      sourceFinished() {},
      stop() {},
    };
    const run = merge(
      [sentinel.url(0)],
      plain.url,
      { write: { batchSize: 20, concurrency: 2 } },
      progress,
    ).finally(() => {
      finished = true;
    });
    await expect.poll(() => failover, { timeout: 60_000 }).toBeDefined();
    expect(await failover!).not.toBe(before);
    expect(finished, 'the run ended before the failover').toBe(false);
    const report = await run;

    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ scanned: KEYS, created: KEYS, failed: 0 });
    const target = plain.client();
    expect(await target.dbsize()).toBe(KEYS);
    const p = target.pipeline();
    for (let j = 0; j < KEYS; j++) p.hget(`h:${j}`, 'f');
    const values = ((await p.exec()) as [Error | null, string][]).map(([, v]) => v);
    expect(values.filter((v, j) => v !== `v${j}`)).toEqual([]);
  }, 180_000);
});
