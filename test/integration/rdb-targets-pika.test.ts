/**
 * RDB files into Pika 4.0, Pika 3.5 and a 3-master Redis Cluster (issue 19): files SAVEd by Valkey 8.0
 * (RDB 11), Redis 8.0 (RDB 12) and Redis 6.2 (RDB 9), each holding every type in every encoding, a few
 * hundred keys of each type, TTLs, field TTLs (8.0) and three databases, are merged together into a
 * target that already holds conflicting keys; the same merge from the live servers that saved them
 * into a second target of the same kind must leave it equal, with the same counters. Pika takes every
 * value natively (no RESTORE), and its quirks (no stream groups or TTLs, whole-second TTLs and
 * several types under one name on 3.5) apply to both sides alike: the two Pikas are compared key by
 * key (value, and whether it has a TTL), each database. The Cluster (Redis 7.0, RDB 10, db 0 only)
 * takes the 6.2 file's payloads as they are and decodes the 8.0 file's; its masters are compared by
 * DEBUG DIGEST, node by node (both clusters split the slots alike).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../harness/cluster.js';
import { hex, readValue, type TypeName, type Value } from '../harness/data.js';
import {
  FOLD_CASES,
  foldBoth,
  outcomeOf,
  type SavedBuild,
  savedBuilds,
  seedTargetConflicts,
} from '../harness/file-fold.js';
import { digest, type RedisServer, startRedis } from '../harness/redis.js';
import { describeServer, type TestServer } from '../harness/servers.js';

const SOURCES: TestServer[] = ['redis-6.2.16', 'valkey-8.0.1', 'redis-8.0-m01'];
/**
 * Which source databases each fold case merges on a Pika, and where they land: fresh databases of
 * its eight, nothing to empty (the windowed case takes two).
 */
const PIKA_DBS: Record<string, [from: number, into: number][]> = {
  merge: [
    [0, 0],
    [1, 1],
    [5, 2],
  ],
  override: [
    [0, 3],
    [1, 4],
    [5, 5],
  ],
  'merge, big values in windows': [
    [0, 6],
    [5, 7],
  ],
};

/**
 * Each name's value (bytes as hex) and whether it has a TTL, read by name: on these Pika 3.5 databases
 * KEYS and SCAN were seen never to end (KEYS * grew to the 1 GB max-client-response-size; one stream
 * alone does not do it), so the names are the ones the test wrote. A
 * Pika 3.5 name holds several types: each is read (PTYPE names them, XLEN finds a stream).
 */
async function readNamed(r: Redis, names: Iterable<string>, multiType: boolean) {
  const readOne = async (name: string) => {
    const types: TypeName[] = multiType ? ((await r.call('PTYPE', name)) as TypeName[]) : [];
    if (multiType && Number(await r.xlen(name).catch(() => 0)) > 0) types.push('stream');
    const values = multiType
      ? await Promise.all(types.map((type) => readValue(r, name, hex, type)))
      : [await readValue(r, name, hex)];
    return [name, { values, ttl: (await r.pttl(name)) >= 0 }] as const;
  };
  const all = [...names];
  const out: Record<string, { values: Value[]; ttl: boolean }> = {};
  // Many names at once: their commands share round trips.
  for (let i = 0; i < all.length; i += 200)
    for (const [name, read] of await Promise.all(all.slice(i, i + 200).map(readOne))) out[name] = read;
  return out;
}

/** The names a merge of `db` can leave on the target: the sources' and the target's own. */
async function namesOf(
  builds: readonly SavedBuild[],
  db: number,
  target: readonly string[],
): Promise<Set<string>> {
  const names = new Set(target);
  for (const b of builds) for (const name of await b.live.client(db).keys('*')) names.add(name);
  return names;
}

describeServer(SOURCES, 'RDB files of Valkey 8.0, Redis 8.0 and 6.2 into Pika and a Cluster', () => {
  let builds: SavedBuild[] = [];
  const of = (...names: TestServer[]) => builds.filter((b) => names.includes(b.build));
  beforeAll(async () => {
    builds = await savedBuilds(SOURCES);
  });
  afterAll(async () => {
    await Promise.all(builds.map((b) => b.live.stop()));
  });

  for (const pika of ['pika-4.0.1', 'pika-3.5.5'] as const) {
    describeServer(pika, `into ${pika}`, () => {
      let fromFile: RedisServer;
      let fromLive: RedisServer;
      beforeAll(async () => {
        [fromFile, fromLive] = await Promise.all([
          startRedis({ server: pika }),
          startRedis({ server: pika }),
        ]);
      });
      afterAll(async () => {
        await Promise.all([fromFile, fromLive].map((s) => s?.stop()));
      });

      for (const fold of FOLD_CASES) {
        it(`under ${fold.title}: every database equals the fold from the live servers, key by key`, async () => {
          const sources = of('valkey-8.0.1', 'redis-8.0-m01');
          for (const [db, into] of PIKA_DBS[fold.title]!) {
            const own = await seedTargetConflicts(fromFile.client(into));
            await seedTargetConflicts(fromLive.client(into));
            const { file, live } = await foldBoth(
              sources,
              [fromFile.urlFor(into), fromLive.urlFor(into)],
              db,
              fold,
            );
            expect(file.outcome, file.error).toBe('done');
            expect(outcomeOf(file)).toEqual(outcomeOf(live));
            expect(file.totals.created).toBeGreaterThan(500);
            const names = await namesOf(sources, db, own);
            const multiType = pika === 'pika-3.5.5';
            const [fromFileKeys, fromLiveKeys] = await Promise.all(
              [fromFile, fromLive].map((t) => readNamed(t.client(into), names, multiType)),
            );
            const held = Object.values(fromFileKeys!).filter((k) => k.values.some((v) => v.type !== 'none'));
            expect(held.length).toBeGreaterThan(1000);
            expect(fromFileKeys).toEqual(fromLiveKeys);
          }
        });
      }
    });
  }

  describeServer('redis', 'into a 3-master Redis Cluster (redis-server 7.0)', () => {
    let fromFile: TestCluster;
    let fromLive: TestCluster;
    beforeAll(async () => {
      [fromFile, fromLive] = await Promise.all([startCluster(3), startCluster(3)]);
    });
    afterAll(async () => {
      await Promise.all([fromFile, fromLive].map((c) => c?.stop()));
    });

    for (const fold of FOLD_CASES) {
      it(`under ${fold.title}: every master equals its peer merged from the live servers`, async () => {
        for (const target of [fromFile, fromLive]) {
          await target.flushall();
          await seedTargetConflicts(target.client());
        }
        const sources = of('redis-6.2.16', 'redis-8.0-m01');
        const { file, live } = await foldBoth(sources, [fromFile.url, fromLive.url], 0, fold);
        expect(file.outcome, file.error).toBe('done');
        expect(outcomeOf(file)).toEqual(outcomeOf(live));
        // The 8.0 file (RDB 12) is decoded for the 7.0 masters; the 6.2 file's payloads are restored.
        const reasons = file.fallbacks.map((f) => f.reason).join('\n');
        expect(reasons).toMatch(/RDB 12, newer than the target's 10/);
        expect(reasons).not.toMatch(/RDB 9/);
        expect(await fromFile.dbsize()).toBeGreaterThan(1000);
        for (const [i, node] of fromFile.nodes.entries()) {
          expect(await node.client().dbsize(), `node ${i}`).toBeGreaterThan(100);
          expect(await digest(node), `node ${i}`).toBe(await digest(fromLive.nodes[i]!));
        }
      });
    }
  });
});
