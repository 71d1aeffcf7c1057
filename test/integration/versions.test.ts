/**
 * The server matrix of SPEC §7 (issue 7): every ordered pair (source build, target build) among
 * Debian's redis-server 7.0.15, Redis 6.2.16, 7.4.1, 8.0-m01 and Valkey 8.0.1, 25 pairs with the
 * same-version ones. Each pair runs one real merge in `auto` mode of two sources holding every type
 * (TTLs, binary keys and values, a stream with a consumer group) into a target that already holds
 * some keys, under a mix of strategies, and checks the result against the fold of SPEC §1 written
 * out below, the report's counters, the dry run's counters, and the write path (SPEC §2.1):
 *
 * - a source whose DUMP payloads carry a newer RDB version than the target understands (6.2: 9,
 *   7.0: 10, Valkey 8.0: 11, 7.4/8.0: 12) has its first payloads rejected by RESTORE; the run goes
 *   on natively and the report names every copied key under "payload rejected by target";
 * - an older or equal payload is restored: no fallback, no native XADD on the target.
 *
 * Each build is started once for the file and plays both roles: the two sources live in dbs 0 and 1
 * of the source build, the target in db 2 of the target build (flushed and seeded before each pair).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonReport, resolvePlan, runMerge } from '../../src/index.js';
import { counts } from '../harness/counts.js';
import {
  type Bytes,
  hash,
  hex,
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
import type { MergeConfig } from '../harness/merge-servers.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { DEFAULT_SERVER, describeServer, REDIS_SERVERS, type TestServer } from '../harness/servers.js';

const BUILDS: TestServer[] = [DEFAULT_SERVER, ...REDIS_SERVERS];
const LABEL: Record<string, string> = {
  [DEFAULT_SERVER]: 'redis 7.0 (Debian)',
  'redis-6.2.16': 'redis 6.2.16',
  'redis-7.4.1': 'redis 7.4.1',
  'redis-8.0-m01': 'redis 8.0-m01',
  'valkey-8.0.1': 'valkey 8.0.1',
};
/** What each build's `INFO server` says (8.0-m01 calls itself 7.9.224). */
const INFO_VERSION: Record<string, RegExp> = {
  [DEFAULT_SERVER]: /^redis_version:7\.0\./m,
  'redis-6.2.16': /^redis_version:6\.2\.16$/m,
  'redis-7.4.1': /^redis_version:7\.4\.1$/m,
  'redis-8.0-m01': /^redis_version:7\.9\.224$/m,
  'valkey-8.0.1': /^valkey_version:8\.0\.1$/m,
};
/** The RDB version of each build's DUMP payloads (../shared/servers/README.md). */
const RDB_VERSION: Record<string, number> = {
  [DEFAULT_SERVER]: 10,
  'redis-6.2.16': 9,
  'redis-7.4.1': 12,
  'redis-8.0-m01': 12,
  'valkey-8.0.1': 11,
};
const S1_DB = 0;
const S2_DB = 1;
const TARGET_DB = 2;

const TTL = 600_000;
const TARGET_TTL = 300_000;
/** How far a copied TTL may be from the source's (read a moment later, on a busy 2-core machine). */
const TTL_TOLERANCE = 5_000;

const BIN_KEY = Buffer.from([0x62, 0x69, 0x6e, 0x00, 0xff, 0x0a, 0x7b, 0x7d]); // "bin\0\xff\n{}"
const BIN_VAL = Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x00]);
const BIN_FIELD = Buffer.from([0xc3, 0x28, 0x00]); // invalid UTF-8

const S1_STREAM = stream(['1-0', ['f', 'v']], ['2-5', ['g', BIN_VAL]]);

const S1: [Bytes, Value][] = [
  ['str:new', str('one')], // create, TTL
  ['str:both', str('s1')], // override the target's, then overridden by s2
  [BIN_KEY, str(BIN_VAL)], // create, TTL
  [
    'hash:new',
    hash([
      [BIN_FIELD, BIN_VAL],
      ['f', 'v'],
    ]),
  ], // create
  ['hash:m', hash({ f1: 's1', f2: 's1' })], // merge
  ['set:new', set('a', 'b', BIN_VAL)], // create
  ['set:m', set('a', 'b')], // merge, TTL (longer than the target's)
  ['zset:new', zset(['a', 1.5], ['b', -2])], // create
  ['zset:m', zset(['a', 1], ['b', 5])], // merge (max)
  ['list:new', list('x', 'y', 'x')], // create
  ['list:m', list('x', 'y')], // merge (append)
  ['stream:new', S1_STREAM], // create, with consumer group g
  ['stream:old', stream(['5-0', ['s', '1']])], // skip: the target holds it
  ['mm', str('s1')], // type mismatch (target: hash) → override
];
const S1_TTL = ['str:new', BIN_KEY, 'set:m'];

const S2: [Bytes, Value][] = [
  ['str:both', str('s2')], // override again, TTL
  ['hash:m', hash({ f2: 's2', f3: 's2' })],
  ['zset:m', zset(['c', 7], ['a', 0])],
  ['list:m', list('z')],
  ['stream:new', stream(['9-0', ['s2', 'x']])], // skip: s1 created it
  ['s2:only', str('two')],
];
const S2_TTL = ['str:both'];

const TARGET_BEFORE: [Bytes, Value][] = [
  ['str:both', str('tgt')],
  ['hash:m', hash({ f0: 't', f1: 't' })], // TTL; the sources' have none, so merge.ttl max drops it
  ['set:m', set('b', 'c')], // TTL, shorter than s1's
  ['zset:m', zset(['b', 3], ['c', 2])],
  ['list:m', list('t')],
  ['stream:old', stream(['1-1', ['t', 't']])],
  ['mm', hash({ h: 't' })],
  ['tgt:only', str('keep')], // TTL, untouched
];
const TARGET_TTL_KEYS = ['hash:m', 'set:m', 'tgt:only'];

/** Where the final TTL comes from: a source key (db, key), the target's own, or none. */
type TtlFrom = { db: number; key: Bytes } | 'target' | null;

/** The fold of SPEC §1.2 over target, s1, s2 under CONFIG, written out. */
const EXPECTED: [Bytes, Value, TtlFrom][] = [
  ['str:new', str('one'), { db: S1_DB, key: 'str:new' }],
  ['str:both', str('s2'), { db: S2_DB, key: 'str:both' }],
  [BIN_KEY, str(BIN_VAL), { db: S1_DB, key: BIN_KEY }],
  [
    'hash:new',
    hash([
      [BIN_FIELD, BIN_VAL],
      ['f', 'v'],
    ]),
    null,
  ],
  // hashField source; merge.ttl max: no expiry on the sources is the longest lifetime.
  ['hash:m', hash({ f0: 't', f1: 's1', f2: 's2', f3: 's2' }), null],
  ['set:new', set('a', 'b', BIN_VAL), null],
  ['set:m', set('a', 'b', 'c'), { db: S1_DB, key: 'set:m' }],
  ['zset:new', zset(['a', 1.5], ['b', -2]), null],
  ['zset:m', zset(['a', 1], ['b', 5], ['c', 7]), null],
  ['list:new', list('x', 'y', 'x'), null],
  ['list:m', list('t', 'x', 'y', 'z'), null],
  ['stream:new', S1_STREAM, null],
  ['stream:old', stream(['1-1', ['t', 't']]), null],
  ['mm', str('s1'), null],
  ['s2:only', str('two'), null],
  ['tgt:only', str('keep'), 'target'],
];

const CONFIG: MergeConfig = {
  strategies: {
    default: 'skip',
    string: 'override',
    hash: 'merge',
    set: 'merge',
    zset: 'merge',
    list: 'merge',
    stream: 'skip',
  },
  typeMismatch: 'override',
  merge: { hashField: 'source', zsetScore: 'max', list: 'append', ttl: 'max' },
  write: { mode: 'auto' },
  report: { sample: 100 },
};

const TOTALS = counts({
  created: 8,
  overridden: 3,
  merged: 7,
  skipped: 2,
  typeMismatch: 1,
  sourceOverlap: 5,
});
const BY_TYPE = {
  string: counts({ created: 3, overridden: 3, typeMismatch: 1, sourceOverlap: 1 }),
  hash: counts({ created: 1, merged: 2, sourceOverlap: 1 }),
  set: counts({ created: 1, merged: 1 }),
  zset: counts({ created: 1, merged: 2, sourceOverlap: 1 }),
  list: counts({ created: 1, merged: 2, sourceOverlap: 1 }),
  stream: counts({ created: 1, skipped: 2, sourceOverlap: 1 }),
};
/** Steps where the target already held the key: 7 from s1, 5 from s2. */
const CONFLICTS = 12;
/** The keys copied (create or override): the ones that need DUMP/RESTORE or fall back to native. */
const COPIED = [
  's1/str:new',
  's1/str:both',
  `s1/base64:${BIN_KEY.toString('base64')}`,
  's1/hash:new',
  's1/set:new',
  's1/zset:new',
  's1/list:new',
  's1/stream:new',
  's1/mm',
  's2/str:both',
  's2/s2:only',
].sort();
const S1_COPIED = COPIED.filter((k) => k.startsWith('s1/')).length;

/** `INFO commandstats` calls of one command (failed_calls: 0 where the server does not count them). */
async function commandStats(r: Redis, command: string): Promise<{ calls: number; failed: number }> {
  const info = await r.info('commandstats');
  const line = info.split(/\r?\n/).find((l) => l.startsWith(`cmdstat_${command}:`));
  const field = (name: string): number => Number(line?.match(new RegExp(`\\b${name}=(\\d+)`))?.[1] ?? 0);
  return { calls: field('calls'), failed: field('failed_calls') };
}

/** The consumer groups of a stream: name, last delivered id, consumers, pending. */
async function groups(r: Redis, key: Bytes): Promise<[string, string, number, number][]> {
  const reply = (await r.call('XINFO', 'GROUPS', key)) as unknown[][];
  return reply.map((flat) => {
    const get = (name: string): unknown => flat[flat.indexOf(name) + 1];
    return [
      String(get('name')),
      String(get('last-delivered-id')),
      Number(get('consumers')),
      Number(get('pending')),
    ];
  });
}

const keyName = (key: Bytes): string => (typeof key === 'string' ? key : `base64:${key.toString('base64')}`);

describeServer([...REDIS_SERVERS], 'server matrix: every source build into every target build', () => {
  const servers = new Map<TestServer, RedisServer>();
  /** Clients per build: [s1 db, s2 db, target db]. */
  const clients = new Map<TestServer, [Redis, Redis, Redis]>();

  beforeAll(async () => {
    const started = await Promise.allSettled(BUILDS.map((server) => startRedis({ server })));
    started.forEach((r, i) => {
      if (r.status === 'fulfilled') servers.set(BUILDS[i]!, r.value);
    });
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const [build, server] of servers) {
      const c: [Redis, Redis, Redis] = [server.client(S1_DB), server.client(S2_DB), server.client(TARGET_DB)];
      clients.set(build, c);
      await server.client().flushall();
      await seed(c[0], S1);
      await seed(c[1], S2);
      for (const key of S1_TTL) await c[0].pexpire(key, TTL);
      for (const key of S2_TTL) await c[1].pexpire(key, TTL);
      // A consumer group with one consumer and one pending entry (2-5 delivered to alice).
      await c[0].call('XGROUP', 'CREATE', 'stream:new', 'g', '1-0');
      await c[0].call('XREADGROUP', 'GROUP', 'g', 'alice', 'COUNT', '1', 'STREAMS', 'stream:new', '>');
    }
  });
  afterAll(async () => {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  });

  async function resetTarget(build: TestServer): Promise<Redis> {
    const t = clients.get(build)![2];
    await t.flushdb();
    await seed(t, TARGET_BEFORE);
    for (const key of TARGET_TTL_KEYS) await t.pexpire(key, TARGET_TTL);
    return t;
  }

  /** The target holds the fold of SPEC §1, byte for byte, with its TTLs, and nothing else. */
  async function expectFold(t: Redis, s1: Redis, s2: Redis, restored: boolean): Promise<void> {
    for (const [key, value] of EXPECTED) {
      expect(await readValue(t, key, hex), keyName(key)).toEqual(normalize(value, hex));
    }
    expect(await t.dbsize()).toBe(EXPECTED.length);
    // RESTORE carries the whole group; the native path recreates it at its last-delivered id, without
    // its consumers and pending entries (no command writes a pending entry of another stream's read).
    expect(await groups(t, 'stream:new')).toEqual([['g', '2-5', restored ? 1 : 0, restored ? 1 : 0]]);
    const info = (await t.call('XINFO', 'STREAM', 'stream:new')) as unknown[];
    expect(String(info[info.indexOf('last-generated-id') + 1])).toBe('2-5');

    // TTLs: copied from the source that decided the value (SPEC §1.5), the target's own kept.
    for (const [key, , from] of EXPECTED) {
      const pttl = await t.pttl(key);
      if (from === null) expect(pttl, keyName(key)).toBe(-1);
      else if (from === 'target') expect(pttl, keyName(key)).toBeGreaterThan(TARGET_TTL - 60_000);
      else {
        const expected = await (from.db === S1_DB ? s1 : s2).pttl(from.key);
        expect(Math.abs(pttl - expected), `${keyName(key)}: ${pttl} vs ${expected}`).toBeLessThan(
          TTL_TOLERANCE,
        );
      }
    }
  }

  /** Merges s1 and s2 of `from` (or s1 of from[0] and s2 of from[1]) into the target db of `into`. */
  function merge(
    from: TestServer | [TestServer, TestServer],
    into: TestServer,
    dryRun: boolean,
    mode = 'auto',
  ): Promise<JsonReport> {
    const [first, second] = Array.isArray(from) ? from : [from, from];
    const doc = {
      version: 1,
      ...CONFIG,
      write: { mode },
      sources: [
        { url: servers.get(first)!.urlFor(S1_DB), name: 's1' },
        { url: servers.get(second)!.urlFor(S2_DB), name: 's2' },
      ],
      target: { url: servers.get(into)!.urlFor(TARGET_DB) },
    };
    return runMerge(resolvePlan(doc, { dryRun }, {}));
  }

  it('each build is the server it names', async () => {
    for (const build of BUILDS) {
      const info = (await clients.get(build)![0].info('server')).replace(/\r/g, '');
      expect(info, build).toMatch(INFO_VERSION[build]!);
    }
  });

  for (const into of BUILDS) {
    describe(`into ${LABEL[into]}`, () => {
      for (const from of BUILDS) {
        const fallsBack = RDB_VERSION[from]! > RDB_VERSION[into]!;
        const path = fallsBack ? 'payload rejected, native fallback' : 'DUMP/RESTORE';
        it(`${LABEL[from]} → ${LABEL[into]}: ${path}`, async () => {
          const t = await resetTarget(into);
          const [s1, s2] = clients.get(from)!;

          // SPEC §5.3: a dry run reports the counters of the real run, and writes nothing.
          const beforeDry = await commandStats(t, 'restore');
          const dry = await merge(from, into, true);
          expect(dry.outcome).toBe('done');
          expect(dry.fallbacks).toEqual([]);
          expect((await commandStats(t, 'restore')).calls).toBe(beforeDry.calls);
          expect(await t.dbsize()).toBe(TARGET_BEFORE.length);

          const restores = await commandStats(t, 'restore');
          const xadds = await commandStats(t, 'xadd');
          const report = await merge(from, into, false);
          expect(report.outcome, report.error).toBe('done');
          expect(report.totals).toEqual(TOTALS);
          expect(report.byType).toEqual(BY_TYPE);
          expect(report.conflicts.total).toBe(CONFLICTS);
          expect(report.sources.map((s) => s.scanned)).toEqual([S1.length, S2.length]);
          expect({ totals: dry.totals, byType: dry.byType, conflicts: dry.conflicts.total }).toEqual({
            totals: report.totals,
            byType: report.byType,
            conflicts: report.conflicts.total,
          });

          await expectFold(t, s1, s2, !fallsBack);

          // The write path (SPEC §2.1) and what the report says of it.
          const restored = await commandStats(t, 'restore');
          const restoreCalls = restored.calls - restores.calls;
          const restoreFailed = restored.failed - restores.failed;
          const nativeXadds = (await commandStats(t, 'xadd')).calls - xadds.calls;
          const sample = (report.fallbacks[0]?.sample ?? []).map(
            (s) => `${s.source}/${s.key ?? `base64:${s.keyBase64}`}`,
          );
          if (fallsBack) {
            expect(report.fallbacks.map((f) => [f.reason, f.keys])).toEqual([
              ['payload rejected by target', COPIED.length],
            ]);
            expect(sample.sort()).toEqual(COPIED);
            // The first source's copies were tried with RESTORE and rejected; every key then went natively.
            expect(restoreCalls).toBe(S1_COPIED);
            if (into !== 'redis-6.2.16') expect(restoreFailed).toBe(S1_COPIED); // 6.2 has no failed_calls
            expect(nativeXadds).toBeGreaterThan(0);
          } else {
            expect(report.fallbacks).toEqual([]);
            expect(restoreCalls).toBe(COPIED.length);
            expect(restoreFailed).toBe(0);
            expect(nativeXadds).toBe(0);
          }
        });
      }
    });
  }

  describe('sources of different builds in one run, into redis 7.0 (Debian)', () => {
    const into = DEFAULT_SERVER;
    const S2_COPIED = COPIED.length - S1_COPIED;

    it('an older source first is restored; the newer one after it falls back from its first payload', async () => {
      const t = await resetTarget(into);
      const from: [TestServer, TestServer] = ['redis-6.2.16', 'redis-7.4.1'];
      const restores = await commandStats(t, 'restore');
      const report = await merge(from, into, false);
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals).toEqual(TOTALS);
      await expectFold(t, clients.get(from[0])![0], clients.get(from[1])![1], true);
      expect(report.fallbacks.map((f) => [f.reason, f.keys])).toEqual([
        ['payload rejected by target', S2_COPIED],
      ]);
      expect(report.fallbacks[0]!.sample.map((s) => `${s.source}/${s.key}`).sort()).toEqual(
        COPIED.filter((k) => k.startsWith('s2/')),
      );
      const after = await commandStats(t, 'restore');
      expect(after.calls - restores.calls).toBe(COPIED.length);
      expect(after.failed - restores.failed).toBe(S2_COPIED);
    });

    it('a newer source first switches the whole run to native, the older source after it too', async () => {
      const t = await resetTarget(into);
      const from: [TestServer, TestServer] = ['valkey-8.0.1', 'redis-6.2.16'];
      const restores = await commandStats(t, 'restore');
      const report = await merge(from, into, false);
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals).toEqual(TOTALS);
      await expectFold(t, clients.get(from[0])![0], clients.get(from[1])![1], false);
      expect(report.fallbacks.map((f) => [f.reason, f.keys])).toEqual([
        ['payload rejected by target', COPIED.length],
      ]);
      const after = await commandStats(t, 'restore');
      expect(after.calls - restores.calls).toBe(S1_COPIED);
      expect(after.failed - restores.failed).toBe(S1_COPIED);
    });
  });

  describe('write.mode native, oldest and newest build both ways', () => {
    const pairs: [TestServer, TestServer][] = [
      ['redis-6.2.16', 'redis-8.0-m01'],
      ['redis-8.0-m01', 'redis-6.2.16'],
    ];
    for (const [from, into] of pairs) {
      it(`${LABEL[from]} → ${LABEL[into]}: the same fold without RESTORE, and no fallback to report`, async () => {
        const t = await resetTarget(into);
        const [s1, s2] = clients.get(from)!;
        const restores = await commandStats(t, 'restore');
        const report = await merge(from, into, false, 'native');
        expect(report.outcome, report.error).toBe('done');
        expect(report.totals).toEqual(TOTALS);
        expect(report.byType).toEqual(BY_TYPE);
        await expectFold(t, s1, s2, false);
        expect(report.fallbacks).toEqual([]);
        expect((await commandStats(t, 'restore')).calls).toBe(restores.calls);
      });
    }
  });
});
