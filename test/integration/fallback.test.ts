/**
 * The native fallback of SPEC §2.1: in auto mode a target that cannot take RESTORE payloads still
 * gets every key, written natively, and the report says so; in dump mode such a target is refused
 * before anything is written (exit 2).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KvmergeError, type RunEvent, RunEvents, resolvePlan, runMerge } from '../../src/index.js';
import { counts } from '../harness/counts.js';
import {
  hash,
  list,
  normalize,
  readValue,
  seed,
  set,
  str,
  stream,
  type Value,
  zset,
} from '../harness/data.js';
import { type Servers, startServers } from '../harness/merge-servers.js';
import { digest, type RedisServer, startRedis } from '../harness/redis.js';

const DATA: Record<string, Value> = {
  s: str('v'),
  h: hash({ f: 'v', g: 'w' }),
  set: set('a', 'b'),
  z: zset(['a', 1.5], ['b', -2]),
  l: list('x', 'y', 'x'),
  x: stream(['1-0', ['f', 'v']], ['2-5', ['g', 'w']]),
};

let servers: Servers;
/** A target without RESTORE (renamed away). */
let noRestore: RedisServer;
/** A target whose user may not RESTORE (the command exists, the ACL refuses it). */
let aclTarget: RedisServer;
const WRITER_URL = (server: RedisServer): string => `redis://writer:pw@127.0.0.1:${server.port}/0`;

beforeAll(async () => {
  [servers, noRestore, aclTarget] = await Promise.all([
    startServers(1),
    startRedis({ renameCommands: { RESTORE: '' } }),
    startRedis({ aclUsers: ['writer on >pw ~* &* +@all -restore'] }),
  ]);
});
afterAll(async () => {
  await Promise.all([servers?.stop(), noRestore?.stop(), aclTarget?.stop()]);
});
beforeEach(async () => {
  await servers.flush();
  await Promise.all([noRestore.client().flushall(), aclTarget.client().flushall()]);
});

async function expectCopied(target: RedisServer): Promise<void> {
  const t = target.client();
  for (const [key, value] of Object.entries(DATA)) {
    expect(await readValue(t, key), key).toEqual(normalize(value));
  }
  expect(await digest(target)).toBe(await digest(servers.sources[0]!));
}

describe('a target that cannot take RESTORE payloads', () => {
  it('without RESTORE, auto mode writes every key natively and the report says so', async () => {
    await seed(servers.s[0]!, DATA);
    await servers.s[0]!.pexpire('h', 100_000);
    const events = new RunEvents();
    const said: RunEvent[] = [];
    events.on((e) => said.push(e));
    const report = await runMerge(
      resolvePlan(servers.doc({ target: { url: noRestore.url }, write: { mode: 'auto' } }), {}, {}),
      { events },
    );
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: 6 }));
    // Each key's fallback was said on the run's event channel as it happened, with its source and reason.
    expect(said).toHaveLength(6);
    for (const e of said)
      expect(e).toMatchObject({ kind: 'fallback', source: 's1', reason: expect.stringMatching(/RESTORE/) });
    await servers.s[0]!.persist('h');
    await noRestore.client().persist('h');
    await expectCopied(noRestore);
    expect(report.fallbacks).toHaveLength(1);
    expect(report.fallbacks[0]!.reason).toMatch(/RESTORE/);
    // Every key took the native path instead of RESTORE, and the report names them.
    expect(report.fallbacks[0]!.keys).toBe(6);
    expect(report.fallbacks[0]!.sample.map((s) => `${s.source}/${s.key}`).sort()).toEqual(
      Object.keys(DATA)
        .map((k) => `s1/${k}`)
        .sort(),
    );
  });

  it('without RESTORE, auto mode overrides and merges natively too', async () => {
    await seed(servers.s[0]!, DATA);
    const t = noRestore.client();
    await seed(t, { s: str('old'), h: hash({ old: '1' }), l: list('t'), x: stream(['0-1', ['o', 'o']]) });
    const report = await runMerge(
      resolvePlan(
        servers.doc({
          target: { url: noRestore.url },
          strategies: { default: 'override', list: 'merge', hash: 'merge' },
        }),
        {},
        {},
      ),
    );
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: 2, overridden: 2, merged: 2 }));
    expect(await readValue(t, 's')).toEqual(normalize(DATA.s!));
    expect(await readValue(t, 'x')).toEqual(normalize(DATA.x!));
    expect(await readValue(t, 'h')).toEqual(normalize(hash({ old: '1', f: 'v', g: 'w' })));
    expect(await readValue(t, 'l')).toEqual(normalize(list('t', 'x', 'y', 'x')));
  });

  it('write.mode dump against a target without RESTORE is refused with exit 2 before any write', async () => {
    await seed(servers.s[0]!, DATA);
    await seed(noRestore.client(), { s: str('old') });
    const before = await digest(noRestore);
    const run = runMerge(
      resolvePlan(
        servers.doc({
          target: { url: noRestore.url },
          strategies: { default: 'override' },
          write: { mode: 'dump' },
        }),
        {},
        {},
      ),
    );
    await expect(run).rejects.toBeInstanceOf(KvmergeError);
    await expect(run).rejects.toMatchObject({ exitCode: 2 });
    await expect(run).rejects.toThrow(/RESTORE/);
    expect(await digest(noRestore)).toBe(before);
  });

  it('RESTORE refused by the target ACL: auto mode falls back to native for the rest of the run', async () => {
    await seed(servers.s[0]!, DATA);
    const report = await runMerge(
      resolvePlan(servers.doc({ target: { url: WRITER_URL(aclTarget) }, write: { mode: 'auto' } }), {}, {}),
    );
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: 6 }));
    await expectCopied(aclTarget);
    expect(report.fallbacks).toHaveLength(1);
    expect(report.fallbacks[0]!.reason).toMatch(/RESTORE/);
    expect(report.fallbacks[0]!.keys).toBe(6);
  });

  it('write.mode native never needs RESTORE', async () => {
    await seed(servers.s[0]!, DATA);
    const report = await runMerge(
      resolvePlan(servers.doc({ target: { url: noRestore.url }, write: { mode: 'native' } }), {}, {}),
    );
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: 6 }));
    await expectCopied(noRestore);
  });
});
