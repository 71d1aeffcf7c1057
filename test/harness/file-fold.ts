/**
 * RDB files against the live servers they were saved from, into any target kind: servers of a few
 * builds are seeded (every encoding of rdb-files.ts, and a few hundred keys of each type, some names
 * shared between builds and some of another type there), SAVEd, and kept running; the same merge is
 * then run from the files into one target and from the live servers into a second target of the same
 * kind, database by database, and the two targets are compared whole.
 *
 * Example:
 *   const builds = await savedBuilds(['redis-6.2.16', 'redis-7.4.1']);
 *   const both = await foldBoth(builds, [fromFile.urlFor(1), fromLive.urlFor(1)], 1, { default: 'merge' });
 *   expect(both.file.totals).toEqual(both.live.totals);
 */
import type { Cluster, Redis } from 'ioredis';
import { type JsonReport, resolvePlan, runMerge } from '../../src/index.js';
import {
  hash,
  type Keys,
  list,
  set,
  str,
  stream,
  TYPES,
  type TypeName,
  type Value,
  writeKeys,
  zset,
} from './data.js';
import { SEEDED_DBS, saveRdb, seedEveryEncoding } from './rdb-files.js';
import { type RedisServer, startRedis } from './redis.js';
import type { TestServer } from './servers.js';

/** A live server of one build, seeded, and the RDB file it SAVEd. */
export interface SavedBuild {
  build: TestServer;
  live: RedisServer;
  file: string;
}

/** The RDB version of each build's DUMP payloads and files (../shared/servers/README.md). */
export const RDB_VERSION: Record<string, number> = {
  redis: 10,
  'redis-6.2.16': 9,
  'redis-7.4.1': 12,
  'redis-8.0-m01': 12,
  'valkey-8.0.1': 11,
};

/** Builds that write hash field TTLs (HPEXPIRE: Redis 7.4 and 8.0). */
export const FIELD_TTL_BUILDS: readonly TestServer[] = ['redis-7.4.1', 'redis-8.0-m01'];

/** The hashes of `db` whose fields seedEveryEncoding gives their own TTL, with those fields. */
export const fieldTtlHashes = (db: number): [key: string, fields: string[]][] => [
  [`db${db}:hash:field-ttl-small`, ['a', 'b']],
  [`db${db}:hash:field-ttl-big`, ['f1', 'f7', 'f999']],
];

/** Keys of each type a build holds per database; the first SHARED are named the same on every build. */
const PER_TYPE = 150;
const SHARED = 100;

/** A small value of `type`, its elements tagged with `tag` (the build) so that merges show whose arrived. */
function sampleValue(type: TypeName, tag: string, i: number): Value {
  const items = [`common-${i % 3}`, `${tag}-${i}`, `${tag}-${i}-b`];
  switch (type) {
    case 'string':
      return str(`${tag}:${i}`);
    case 'hash':
      return hash(items.map((f, n): [string, string] => [f, `${tag}-${n}`]));
    case 'set':
      return set(...items);
    case 'zset':
      return zset(...items.map((m, n): [string, number] => [m, i + n / 4]));
    case 'list':
      return list(...items);
    case 'stream':
      return stream([`${i + 1}-${tag.length}`, ['f', tag]]);
  }
}

/**
 * A few hundred keys of every type, per database: shared names (`spread:<type>:<i>`), names of this
 * build alone, and `spread:mixed:<i>`, whose type depends on the build (type mismatches). One key in
 * five has a TTL. `shift` sets which type the mixed names take.
 */
export function spreadKeys(tag: string, shift: number): Keys {
  const keys: Record<string, Value> = {};
  for (const [t, type] of TYPES.entries()) {
    for (let i = 0; i < PER_TYPE; i++) {
      const name = i < SHARED ? `spread:${type}:${i}` : `spread:${tag}:${type}:${i}`;
      const value = sampleValue(type, tag, i);
      keys[name] = i % 5 === 0 ? Object.assign({ ttl: 3_600_000 + i }, value) : value;
    }
    keys[`spread:mixed:${t}`] = sampleValue(TYPES[(t + shift) % TYPES.length]!, tag, t);
  }
  return keys;
}

/** Starts each build, seeds it (every encoding, spreadKeys in every seeded db) and SAVEs it. */
export async function savedBuilds(builds: readonly TestServer[]): Promise<SavedBuild[]> {
  return Promise.all(
    builds.map(async (build, n): Promise<SavedBuild> => {
      const live = await startRedis({ server: build });
      await seedEveryEncoding(live, FIELD_TTL_BUILDS.includes(build));
      for (const db of SEEDED_DBS) await writeKeys(live.client(db), spreadKeys(`b${n}`, n));
      return { build, live, file: await saveRdb(live, `${build}.rdb`) };
    }),
  );
}

/**
 * Keys a target holds before the merge: some of the sources' names with other values, TTLs or types.
 * Answers their names.
 */
export async function seedTargetConflicts(t: Redis | Cluster): Promise<string[]> {
  const keys: Record<string, Value> = {};
  for (const [n, type] of TYPES.entries()) {
    for (let i = 0; i < SHARED; i += 7) {
      const value = sampleValue(i % 2 ? type : TYPES[(n + 1) % TYPES.length]!, 'tgt', i);
      keys[`spread:${type}:${i}`] = i % 3 === 0 ? Object.assign({ ttl: 9_000_000 }, value) : value;
    }
  }
  keys['tgt:own'] = str('kept');
  await writeKeys(t, keys);
  return Object.keys(keys);
}

export type Strategies = Record<string, string>;

/** One way to fold the files and the servers: strategies, and more of the config document. */
export interface FoldCase {
  title: string;
  strategies: Strategies;
  extra?: object;
}

const MERGE: Strategies = { default: 'merge', string: 'override', stream: 'override' };
export const FOLD_CASES: FoldCase[] = [
  { title: 'merge', strategies: MERGE },
  { title: 'override', strategies: { default: 'override' } },
  // Values over 4 kB are copied in windows: from the file's bytes, from the server's HSCAN/LRANGE/….
  { title: 'merge, big values in windows', strategies: MERGE, extra: { write: { bigKeyBytes: 4096 } } },
];

/**
 * Runs one merge of `sources` (URLs or paths) into `target`, through the library as the CLI does;
 * `extra`: more of the config document (write, merge, …).
 */
export function mergeInto(
  sources: readonly string[],
  target: string,
  strategies: Strategies,
  extra: object = {},
): Promise<JsonReport> {
  const doc = {
    version: 1,
    sources: sources.map((url, i) => ({ url, name: `s${i + 1}` })),
    target: { url: target },
    strategies,
    ...extra,
  };
  return runMerge(resolvePlan(doc, {}, {}));
}

/**
 * The same merge of database `db`, from the builds' files into `targets[0]` and from their live
 * servers into `targets[1]` (URLs naming the target's database).
 */
export async function foldBoth(
  builds: readonly Pick<SavedBuild, 'file' | 'live'>[],
  targets: readonly [string, string],
  db: number,
  { strategies, extra }: FoldCase,
): Promise<{ file: JsonReport; live: JsonReport }> {
  const files = builds.map((b) => `${b.file}?db=${db}`);
  const lives = builds.map((b) => b.live.urlFor(db));
  const file = await mergeInto(files, targets[0], strategies, extra);
  const live = await mergeInto(lives, targets[1], strategies, extra);
  return { file, live };
}

/** The parts of a report that must be the same from the files and from the live servers. */
export function outcomeOf(report: JsonReport) {
  return { outcome: report.outcome, error: report.error, totals: report.totals, byType: report.byType };
}
