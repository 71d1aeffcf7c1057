/**
 * Resume as a property (SPEC §6.3): for random small datasets over a target and 2 sources, with the
 * strategies that are not idempotent (list append, zset sum) beside overrides (string, hash, type
 * mismatches), the CLI is run with --backup and killed with -9 at a random point (once its journal has
 * grown to a random number of bytes), then run again with --resume. The target must then hold the
 * fold of SPEC §1 (./model.ts): nothing applied twice, nothing lost, whatever the kill point, batch
 * size, concurrency and write mode.
 *
 * KVMERGE_RESUME_RUNS raises the number of cases (default 8: each spawns the CLI twice).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { MergeOptions } from '../../src/types/strategy.js';
import { kvmerge } from '../harness/cli-run.js';
import { load, readStore } from '../harness/model-store.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { entryOf } from './arbitraries.js';
import { canonical, type Entry, foldModel, MODEL_TYPES, type ModelTable, type ModelType } from './model.js';

const RUNS = Number(process.env.KVMERGE_RESUME_RUNS ?? '') || 8;

const KEYS = Array.from({ length: 40 }, (_, i) => `k:${i}`);

const TABLE: ModelTable = {
  string: 'override',
  hash: 'override',
  set: 'merge',
  zset: 'merge',
  list: 'merge',
  typeMismatch: 'override',
};
const MERGE: MergeOptions = { hashField: 'source', zsetScore: 'sum', list: 'append', ttl: 'max' };

/** Lists and zsets most of the time (their merges are not idempotent), any type otherwise (mismatches). */
const keyType = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<ModelType>('list', 'zset') },
  { weight: 1, arbitrary: fc.constantFrom(...MODEL_TYPES) },
);

const database = (present: number) =>
  fc
    .tuple(
      ...KEYS.map((key) =>
        fc.option(
          keyType.chain((type) => entryOf(type, 3)).map((entry): [string, Entry] => [key, entry]),
          {
            nil: undefined,
            freq: present,
          },
        ),
      ),
    )
    .map((held) => held.filter((h) => h !== undefined));

const scenario = fc.record({
  target: database(2),
  sources: fc.tuple(database(4), database(4)),
  batchSize: fc.integer({ min: 1, max: 6 }),
  concurrency: fc.integer({ min: 1, max: 3 }),
  mode: fc.constantFrom('auto', 'native'),
  /**
   * The journal's size at which the run is killed: from just past the header to about a whole run's
   * (4–6 KB here, the records of small keys being binary).
   */
  killAt: fc.integer({ min: 400, max: 4_500 }),
});

let servers: RedisServer[] = [];
let clients: Redis[] = [];
let scratch = '';

beforeAll(async () => {
  servers = await Promise.all([startRedis(), startRedis(), startRedis()]);
  clients = servers.map((s) => s.client());
  scratch = await mkdtemp(join(tmpdir(), 'kvmerge-resume-property-'));
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

it('kill -9 at a random point, then --resume: the target holds the fold of SPEC §1', async () => {
  let n = 0;
  let killedMidRun = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async (c) => {
      const [t, a, b] = clients as [Redis, Redis, Redis];
      await Promise.all([t.flushall(), a.flushall(), b.flushall()]);
      await Promise.all([load(t, [], c.target), load(a, [], c.sources[0]), load(b, [], c.sources[1])]);
      const model = foldModel(
        new Map(c.target),
        [new Map(c.sources[0]), new Map(c.sources[1])],
        TABLE,
        MERGE,
      );
      const cfg = join(scratch, `${++n}.json`);
      const journal = join(scratch, `${n}.journal`);
      await writeFile(
        cfg,
        JSON.stringify({
          version: 1,
          sources: [
            { name: 's1', url: servers[1]!.url },
            { name: 's2', url: servers[2]!.url },
          ],
          target: { url: servers[0]!.url },
          strategies: { default: 'skip', ...TABLE, typeMismatch: undefined },
          typeMismatch: TABLE.typeMismatch,
          merge: MERGE,
          write: { batchSize: c.batchSize, concurrency: c.concurrency, mode: c.mode },
        }),
      );
      const killed = await kvmerge(['-c', cfg, '--backup', journal, '--quiet'], {
        journal,
        bytes: c.killAt,
        signal: 'SIGKILL',
      });
      if (killed.signal === 'SIGKILL') killedMidRun++;
      else expect(killed.code, killed.stderr).toBe(0);
      const resumed = await kvmerge(['-c', cfg, '--backup', journal, '--resume', '--quiet']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(canonical(await readStore(t))).toEqual(canonical(model.store));
    }),
    { numRuns: RUNS, endOnFailure: true },
  );
  // The kill must have come mid-run in most cases, or the property proves little.
  expect(killedMidRun).toBeGreaterThanOrEqual(Math.ceil(RUNS / 2));
}, 300_000);
