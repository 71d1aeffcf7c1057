/**
 * Sources are only read (SPEC §1.7): a read-only ACL user is enough, in auto mode even without DUMP
 * (SPEC §2.1); and a source that is the target itself is refused before anything is touched.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ConnectionError, KvmergeError, resolvePlan, runMerge } from '../../src/index.js';
import { counts } from '../harness/counts.js';
import { hash, type Keys, list, seed, set, str, stream, zset } from '../harness/data.js';
import { type Servers, startServers } from '../harness/merge-servers.js';
import { digest, type RedisServer } from '../harness/redis.js';

// `+@read` is the canonical read-only user; the others may also PING.
const READ_ONLY = 'readonly on >pw ~* &* +@read -@write';
const READER = 'reader on >pw ~* &* +@read -@write +ping';
const NO_DUMP = 'nodump on >pw ~* &* +@read -@write +ping -dump';

let servers: Servers;
let source: RedisServer;
let s: Redis;

beforeAll(async () => {
  // The source binds a second loopback address too: the same instance under another URL.
  servers = await startServers(1, {
    source: { aclUsers: [READ_ONLY, READER, NO_DUMP], args: ['--bind', '127.0.0.1', '127.0.0.2'] },
  });
  source = servers.sources[0]!;
  s = servers.s[0]!;
});
afterAll(async () => {
  await servers?.stop();
});
beforeEach(async () => {
  await servers.flush();
  await s.call('ACL', 'LOG', 'RESET');
});

const asUser = (user: string, host = '127.0.0.1', db = 0): string =>
  `redis://${user}:pw@${host}:${source.port}/${db}`;

const ALL_TYPES: Keys = {
  s: str('v'),
  h: hash({ f: 'v', g: 'w' }),
  set: set('a', 'b'),
  z: zset(['a', 1], ['b', 2]),
  l: list('x', 'y', 'x'),
  x: stream(['1-0', ['f', 'v']]),
};

/** The write commands the source refused (its ACL LOG), i.e. the writes kvmerge tried to send it. */
async function refusedWrites(): Promise<string[]> {
  const log = (await s.call('ACL', 'LOG')) as unknown[][];
  const names = log.map((entry) => String(entry[entry.indexOf('object') + 1]).split('|')[0]!);
  if (names.length === 0) return [];
  const info = (await s.call('COMMAND', 'INFO', ...names)) as unknown[][];
  return names.filter((_name, i) => (info[i]?.[2] as string[] | undefined)?.includes('write'));
}

/** The commands the source refused, by name. */
async function refused(): Promise<string[]> {
  const log = (await s.call('ACL', 'LOG')) as unknown[][];
  return log.map((entry) => String(entry[entry.indexOf('object') + 1]));
}

describe('a read-only source user', () => {
  it.each(['auto', 'native'])('is enough to merge every type (%s mode)', async (mode) => {
    await seed(s, ALL_TYPES);
    await seed(servers.t, { h: hash({ t: '1' }), l: list('t') });
    const before = await digest(source);
    const report = await runMerge(
      resolvePlan(
        servers.doc({
          sources: [{ url: asUser('reader') }],
          strategies: { default: 'merge', string: 'override', stream: 'override' },
          write: { mode },
        }),
        {},
        {},
      ),
    );
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: 4, merged: 2 }));
    expect(await servers.t.hgetall('h')).toEqual({ f: 'v', g: 'w', t: '1' });
    expect(await servers.t.lrange('l', 0, -1)).toEqual(['t', 'x', 'y', 'x']);
    expect(await servers.t.zrange('z', 0, -1, 'WITHSCORES')).toEqual(['a', '1', 'b', '2']);
    expect(await digest(source)).toBe(before);
    // No write was tried on the source (a refused write would be in its ACL LOG), DUMP was allowed.
    expect(await refusedWrites()).toEqual([]);
    expect(await refused()).not.toContain('dump');
  });

  it('a user with nothing but +@read is enough (SPEC §1.7)', async () => {
    await seed(s, ALL_TYPES);
    const before = await digest(source);
    const report = await runMerge(
      resolvePlan(servers.doc({ sources: [{ url: asUser('readonly') }] }), {}, {}),
    );
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: 6 }));
    expect(await digest(servers.target)).toBe(before);
  });

  it('without DUMP permission, auto mode reads natively and still copies every key', async () => {
    await seed(s, ALL_TYPES);
    const before = await digest(source);
    const report = await runMerge(
      resolvePlan(servers.doc({ sources: [{ url: asUser('nodump') }], write: { mode: 'auto' } }), {}, {}),
    );
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: 6 }));
    // Same data (no TTLs): same digest.
    expect(await digest(servers.target)).toBe(before);
    expect(await digest(source)).toBe(before);
    // No write command was tried on the source.
    expect(await refusedWrites()).toEqual([]);
  });

  it('without DUMP permission, an override in auto mode replaces the target values natively', async () => {
    await seed(s, ALL_TYPES);
    await seed(servers.t, { s: str('old'), h: hash({ old: '1' }), l: list('old') });
    const before = await digest(source);
    const report = await runMerge(
      resolvePlan(
        servers.doc({ sources: [{ url: asUser('nodump') }], strategies: { default: 'override' } }),
        {},
        {},
      ),
    );
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: 3, overridden: 3 }));
    expect(await digest(servers.target)).toBe(before);
  });
});

describe('a source that is the target itself is refused', () => {
  it('the same URL: resolvePlan refuses it with a ConfigError', async () => {
    await seed(s, { l: list('x') });
    const doc = servers.doc({ target: { url: source.url }, strategies: { list: 'merge' } });
    expect(() => resolvePlan(doc, {}, {})).toThrow(ConfigError);
    expect(() => resolvePlan(doc, {}, {})).toThrow(/target/);
    expect(await s.lrange('l', 0, -1)).toEqual(['x']);
  });

  it('the same database spelled differently (localhost, no /0) is refused too', async () => {
    const doc = servers.doc({
      sources: [{ url: `redis://localhost:${source.port}` }],
      target: { url: source.url },
    });
    expect(() => resolvePlan(doc, {}, {})).toThrow(ConfigError);
  });

  it('the same instance under another address: runMerge refuses it and touches nothing', async () => {
    await seed(s, { l: list('x'), h: hash({ f: 'v' }) });
    const before = await digest(source);
    const plan = resolvePlan(
      servers.doc({
        sources: [{ url: `redis://127.0.0.2:${source.port}/0` }],
        target: { url: source.url },
        strategies: { list: 'merge', hash: 'override' },
      }),
      {},
      {},
    );
    const run = runMerge(plan);
    await expect(run).rejects.toBeInstanceOf(ConnectionError);
    await expect(run).rejects.toMatchObject({ exitCode: 2 });
    expect(await digest(source)).toBe(before);
  });

  it('the same instance under another address, read by a read-only user: refused, nothing touched', async () => {
    // The read-only user may not run INFO, so the instance must be recognised some other way.
    await seed(s, { l: list('x'), h: hash({ f: 'v' }) });
    const before = await digest(source);
    const plan = resolvePlan(
      servers.doc({
        sources: [{ url: asUser('reader', '127.0.0.2') }],
        target: { url: source.url },
        strategies: { list: 'merge', hash: 'override' },
      }),
      {},
      {},
    );
    let outcome: unknown;
    try {
      outcome = await runMerge(plan);
    } catch (err) {
      outcome = err;
    }
    expect(await s.lrange('l', 0, -1)).toEqual(['x']);
    expect(await digest(source)).toBe(before);
    expect(outcome).toBeInstanceOf(KvmergeError);
    expect((outcome as KvmergeError).exitCode).toBe(2);
  });

  it('another database of the same instance is a different source and merges', async () => {
    const db1 = source.client(1);
    await seed(db1, { l: list('from-db1') });
    await seed(s, { l: list('db0') });
    const report = await runMerge(
      resolvePlan(
        servers.doc({
          sources: [{ url: source.urlFor(1) }],
          target: { url: source.url },
          strategies: { list: 'merge' },
        }),
        {},
        {},
      ),
    );
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ merged: 1 }));
    expect(await s.lrange('l', 0, -1)).toEqual(['db0', 'from-db1']);
    expect(await db1.lrange('l', 0, -1)).toEqual(['from-db1']);
  });
});
