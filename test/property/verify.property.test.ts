/**
 * verify (SPEC §6.5) as a property against real runs: for random small datasets (a target and 2–3
 * sources over a pool of 5 keys, with TTLs of a few distinct lengths), random strategy tables and
 * merge options, after a real merge
 * - verify without a journal finds no difference (whatever the prior state, the target holds it);
 * - verify with the priors (each pool key DUMPed from the target before the run) finds none either;
 * - after one key of the target is changed, verify with the priors names that key.
 *
 * KVMERGE_PROPERTY_RUNS raises the number of cases (default 30).
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type JournaledKey, resolvePlan, runMerge, verify } from '../../src/index.js';
import type { MergeOptions } from '../../src/types/strategy.js';
import { type Key, type Value, writeKeys } from '../harness/data.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { describeServer } from '../harness/servers.js';
import type { ModelTable } from './model.js';

const RUNS = Number(process.env.KVMERGE_PROPERTY_RUNS ?? '') || 30;
const KEYS = ['a', 'b', 'user:1', '\xff\x00k', ''] as const;
const ELEMENTS = ['', 'x', 'y', 'z', '\xff\x00'] as const;
const TYPES = ['string', 'hash', 'set', 'zset', 'list'] as const;
type Type = (typeof TYPES)[number];

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A value as its write command's arguments, and its TTL in ms (0: none). */
interface Held {
  type: Type;
  args: string[];
  ttl: number;
}

const element = fc.constantFrom(...ELEMENTS);
const ttl = fc.constantFrom(0, 0, 60_000, 120_000, 240_000);
function held(type: Type): fc.Arbitrary<Held> {
  const items = (pairs: boolean) =>
    pairs
      ? fc.uniqueArray(fc.tuple(element, element), { minLength: 1, maxLength: 4, selector: ([f]) => f })
      : fc.uniqueArray(element, { minLength: 1, maxLength: 4 });
  const args: fc.Arbitrary<string[]> =
    type === 'string'
      ? element.map((v) => [v])
      : type === 'hash'
        ? items(true).map((p) => (p as [string, string][]).flat())
        : type === 'zset'
          ? fc
              .uniqueArray(fc.tuple(element, fc.integer({ min: -3, max: 3 })), {
                minLength: 1,
                maxLength: 4,
                selector: ([m]) => m,
              })
              .map((p) => p.flatMap(([m, s]) => [String(s), m]))
          : type === 'list'
            ? fc.array(element, { minLength: 1, maxLength: 5 })
            : (items(false) as fc.Arbitrary<string[]>);
  return fc.record({ type: fc.constant(type), args, ttl });
}

/** One database: each pool key held or not, mostly with the key's main type (so merges are frequent). */
const database = (mainTypes: Type[], present: number) =>
  fc
    .tuple(
      ...KEYS.map((key, i) =>
        fc.option(
          fc
            .oneof(
              { weight: 4, arbitrary: fc.constant(mainTypes[i]!) },
              { weight: 1, arbitrary: fc.constantFrom(...TYPES) },
            )
            .chain(held)
            .map((h): [string, Held] => [key, h]),
          { nil: undefined, freq: present },
        ),
      ),
    )
    .map((entries) => entries.filter((e) => e !== undefined));

const dataset = fc
  .tuple(
    fc.array(fc.constantFrom(...TYPES), { minLength: KEYS.length, maxLength: KEYS.length }),
    fc.integer({ min: 2, max: 3 }),
  )
  .chain(([mainTypes, n]) =>
    fc.record({
      target: database(mainTypes, 2),
      sources: fc.array(database(mainTypes, 3), { minLength: n, maxLength: n }),
    }),
  );

const strategy = fc.constantFrom('override' as const, 'merge' as const, 'skip' as const);
const table: fc.Arbitrary<ModelTable> = fc.record({
  string: fc.constantFrom('override' as const, 'skip' as const),
  hash: strategy,
  set: strategy,
  zset: strategy,
  list: strategy,
  typeMismatch: fc.constantFrom('override' as const, 'skip' as const),
});
const mergeOptions: fc.Arbitrary<MergeOptions> = fc.record({
  hashField: fc.constantFrom('source' as const, 'target' as const),
  zsetScore: fc.constantFrom(
    'source' as const,
    'target' as const,
    'max' as const,
    'min' as const,
    'sum' as const,
  ),
  list: fc.constantFrom('append' as const, 'prepend' as const, 'union' as const),
  ttl: fc.constantFrom('max' as const, 'min' as const, 'source' as const, 'target' as const),
});

/** A held value as test data: its write command's arguments read back into a Value. */
function toKey(k: string, h: Held): Key {
  const a = h.args.map(latin1);
  const pairs = (): [Buffer, Buffer][] =>
    Array.from({ length: a.length / 2 }, (_, i) => [a[2 * i]!, a[2 * i + 1]!]);
  const value: Value =
    h.type === 'string'
      ? { type: 'string', value: a[0]! }
      : h.type === 'hash'
        ? { type: 'hash', value: pairs() }
        : h.type === 'zset'
          ? // ZADD's arguments: score, member.
            { type: 'zset', value: pairs().map(([s, m]) => [m, Number(s.toString())]) }
          : { type: h.type, value: a };
  return { name: latin1(k), value, ...(h.ttl > 0 ? { ttl: h.ttl } : {}) };
}

async function load(redis: Redis, entries: readonly [string, Held][]): Promise<void> {
  await redis.del(...KEYS.map(latin1));
  await writeKeys(
    redis,
    entries.map(([k, h]) => toKey(k, h)),
    { add: true },
  );
}

/** Each pool key's state on the target, as the journal records it: a DUMP payload and expiry, or absent. */
async function priorsOf(redis: Redis): Promise<JournaledKey[]> {
  const out: JournaledKey[] = [];
  for (const k of KEYS) {
    const key = latin1(k);
    const payload = await redis.dumpBuffer(key);
    const pttl = await redis.pttl(key);
    out.push({
      key,
      prior: payload
        ? { kind: 'dump', payload, expireAt: pttl >= 0 ? Date.now() + pttl : null }
        : { kind: 'absent' },
    });
  }
  return out;
}

async function* iterate<T>(items: T[]): AsyncIterable<T> {
  yield* items;
}

describeServer('redis', 'verify against real runs (property)', () => {
  let servers: RedisServer[] = [];
  let clients: Redis[] = [];
  beforeAll(async () => {
    servers = await Promise.all(Array.from({ length: 4 }, () => startRedis()));
    clients = servers.map((s) => s.client());
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('finds nothing after a correct run, with and without priors, and names a key changed after it', async () => {
    await fc.assert(
      fc.asyncProperty(
        dataset,
        table,
        mergeOptions,
        fc.nat(KEYS.length - 1),
        async (data, t, merge, victim) => {
          await Promise.all(
            clients.map((c, i) => load(c, i === 0 ? data.target : (data.sources[i - 1] ?? []))),
          );
          const priors = await priorsOf(clients[0]!);
          const plan = resolvePlan({
            sources: data.sources.map((_, i) => ({ url: servers[i + 1]!.url, name: `s${i + 1}` })),
            target: { url: servers[0]!.url },
            strategies: {
              default: 'skip',
              string: t.string,
              hash: t.hash,
              set: t.set,
              zset: t.zset,
              list: t.list,
            },
            typeMismatch: t.typeMismatch,
            merge,
            write: { concurrency: 4, batchSize: 2 },
          });
          const report = await runMerge(plan);
          expect(report.outcome, report.error).toBe('done');

          expect((await verify(plan)).listed).toEqual([]);
          const exact = await verify(plan, { priors: iterate(priors) });
          expect(exact.listed).toEqual([]);
          expect(exact.exact).toBe(KEYS.length);

          // A change after the run: a string no fold gives (no source value is this long).
          const key = latin1(KEYS[victim]!);
          await clients[0]!.set(key, 'changed after the run');
          const caught = await verify(plan, { priors: iterate(priors) });
          expect(
            caught.listed.map((d) => d.key ?? Buffer.from(d.keyBase64!, 'base64').toString('latin1')),
          ).toEqual([KEYS[victim]]);
        },
      ),
      { numRuns: RUNS },
    );
  }, 600_000);
});
