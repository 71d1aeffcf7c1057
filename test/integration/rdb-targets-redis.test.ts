/**
 * RDB files into every Redis and Valkey target (issue 19): files SAVEd by Redis 6.2 (RDB 9), 7.0
 * (10), Valkey 8.0 (11), Redis 7.4 and 8.0 (12), each holding every type in every encoding, a few
 * hundred keys of each type, TTLs, field TTLs (7.4, 8.0) and three databases, are merged together into
 * a target that already holds conflicting keys; the same merge from the live servers that saved them,
 * into a second target of the same build, must leave it equal (DEBUG DIGEST of every database) with
 * the same counters. A file newer than the target has its values decoded (the native path), as the
 * live server's fall back to it; the others are restored. Files are made at run time
 * (test/harness/file-fold.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  FIELD_TTL_BUILDS,
  FOLD_CASES,
  fieldTtlHashes,
  foldBoth,
  outcomeOf,
  RDB_VERSION,
  type SavedBuild,
  savedBuilds,
  seedTargetConflicts,
} from '../harness/file-fold.js';
import { SEEDED_DBS } from '../harness/rdb-files.js';
import { digest, type RedisServer, startRedis } from '../harness/redis.js';
import { DEFAULT_SERVER, describeServer, REDIS_SERVERS, type TestServer } from '../harness/servers.js';

/** Every build's file, oldest RDB version first. */
const SOURCES: TestServer[] = [
  'redis-6.2.16',
  DEFAULT_SERVER,
  'valkey-8.0.1',
  'redis-7.4.1',
  'redis-8.0-m01',
];
const TARGETS: TestServer[] = [DEFAULT_SERVER, ...REDIS_SERVERS];

/**
 * After a merge into a target that keeps hash field TTLs: the two 7.4+ files' field-TTL hashes meet,
 * and the second merges into the first. From the live server that merge is native and drops the
 * field TTLs (README); from a file they follow the fields, unless copied in windows. Checks that the
 * file's target has them where they follow (`onFile`), then removes them on both sides, so that
 * DEBUG DIGEST (which counts them) compares the rest.
 */
async function setFieldTtlsAside(
  fromFile: RedisServer,
  fromLive: RedisServer,
  onFile: boolean,
): Promise<void> {
  for (const db of SEEDED_DBS) {
    for (const [key, fields] of fieldTtlHashes(db)) {
      const times = (await fromFile
        .client(db)
        .call('HPEXPIRETIME', key, 'FIELDS', fields.length, ...fields)) as number[];
      if (onFile)
        expect(
          times.every((t) => t > Date.now()),
          key,
        ).toBe(true);
      for (const target of [fromFile, fromLive])
        await target.client(db).call('HPERSIST', key, 'FIELDS', fields.length, ...fields);
    }
  }
}

describeServer(SOURCES, 'RDB files of every Redis and Valkey build into every Redis target', () => {
  let builds: SavedBuild[] = [];
  beforeAll(async () => {
    builds = await savedBuilds(SOURCES);
  });
  afterAll(async () => {
    await Promise.all(builds.map((b) => b.live.stop()));
  });

  for (const into of TARGETS) {
    describeServer(into, `into ${into}`, () => {
      let fromFile: RedisServer;
      let fromLive: RedisServer;
      beforeAll(async () => {
        [fromFile, fromLive] = await Promise.all([
          startRedis({ server: into }),
          startRedis({ server: into }),
        ]);
      });
      afterAll(async () => {
        await Promise.all([fromFile, fromLive].map((s) => s?.stop()));
      });

      for (const fold of FOLD_CASES) {
        // The windowed case folds db 0 alone (the others hold the same values with TTLs): time.
        const dbs = fold.extra ? [0] : SEEDED_DBS;
        it(`under ${fold.title}: the target equals the fold from the live servers, database by database`, async () => {
          for (const target of [fromFile, fromLive]) {
            await target.client().flushall();
            for (const db of SEEDED_DBS) await seedTargetConflicts(target.client(db));
          }
          const newer = SOURCES.filter((b) => RDB_VERSION[b]! > RDB_VERSION[into]!);
          for (const db of dbs) {
            const { file, live } = await foldBoth(
              builds,
              [fromFile.urlFor(db), fromLive.urlFor(db)],
              db,
              fold,
            );
            expect(file.outcome, file.error).toBe('done');
            expect(outcomeOf(file)).toEqual(outcomeOf(live));
            expect(file.totals.created).toBeGreaterThan(500);
            // The native path is taken for a newer file's values, and only then.
            const reasons = file.fallbacks.map((f) => f.reason).join('\n');
            for (const build of SOURCES) {
              const native = new RegExp(`RDB ${RDB_VERSION[build]}, newer than the target's`);
              if (newer.includes(build)) expect(reasons).toMatch(native);
              else expect(reasons).not.toMatch(native);
            }
          }
          if (fold.strategies.default === 'merge' && FIELD_TTL_BUILDS.includes(into))
            await setFieldTtlsAside(fromFile, fromLive, !fold.extra);
          expect(await digest(fromFile)).toBe(await digest(fromLive));
          // Not two empty servers: each seeded database holds the merge.
          for (const db of dbs) expect(await fromFile.client(db).dbsize()).toBeGreaterThan(1000);
        });
      }
    });
  }
});
