/**
 * The fold of SPEC §1 with RDB files as sources (SPEC §10): the property of fold.property.test.ts,
 * with one or more of its sources replaced by the file that source's server SAVEs right after it is
 * loaded. A file is a source like any other: the target must hold what the model (./model.ts)
 * computes, the counters must be the model's, and a dry run must predict them without writing,
 * whichever sources are files and in whatever order they come, at any concurrency, batch size and
 * write mode, with every value copied whole or every value in windows (bigKeyBytes 1). The pool's binary keys (NUL, 0xff, the empty key) travel through the files too.
 *
 * It runs into Redis (redis-server 7.0: the files are RDB 10, restored as payloads or decoded under
 * native), into Pika 4.0 (every value decoded) and into a 3-master Cluster. KVMERGE_PROPERTY_RUNS
 * raises the number of cases (default 40 into Redis, 20 into Pika and the Cluster).
 */

import fc from 'fast-check';
import { it } from 'vitest';
import { type JsonReport, resolvePlan, runMerge } from '../../src/index.js';
import { load } from '../harness/model-store.js';
import { saveRdb } from '../harness/rdb-files.js';
import { datasetOf, options, strategiesOf } from './arbitraries.js';
import { foldModel, type Store } from './model.js';
import { expectFold, REPLAY, RUNS } from './predicted.js';
import { describeSides, type Sides, usePropertyServers } from './sides.js';

const SIDES: Sides[] = [
  { source: 'redis', target: 'redis' },
  { source: 'redis', target: 'pika-4.0.1' },
  { source: 'redis', target: 'cluster' },
];

/** Every value big (bigKeyBytes 1: copied in windows, from the file's bytes) or none. */
const windowed = fc.boolean();

/** Which of the (up to 3) sources are read from their file. */
const asFiles = fc.array(fc.boolean(), { minLength: 3, maxLength: 3 });

/** The drawn choice for `n` sources, with at least one file: the last source where none was drawn. */
function fileSources(files: readonly boolean[], n: number): boolean[] {
  const chosen = files.slice(0, n);
  if (!chosen.some(Boolean)) chosen[n - 1] = true;
  return chosen;
}

describeSides(SIDES, 'the fold of SPEC §1 with RDB files as sources', (sides) => {
  const runs = RUNS || (sides.target === 'redis' ? 40 : 20);
  const p = usePropertyServers(sides);
  const { keys, loadTarget, readTarget } = p;

  it('gives the model’s target and counters whichever sources are files; a dry run predicts them', async () => {
    await fc.assert(
      fc.asyncProperty(datasetOf(keys), options, asFiles, windowed, async (data, opts, files, big) => {
        const target: Store = new Map(data.target);
        const model = foldModel(
          target,
          data.sources.map((s) => new Map(s)),
          opts.table,
          opts.merge,
        );
        // Every source loaded once and SAVEd: a file source reads what its server held then.
        await Promise.all(p.clients.slice(1).map((c, i) => load(c, keys, data.sources[i] ?? [])));
        const urls = await Promise.all(
          data.sources.map((_, i) =>
            fileSources(files, data.sources.length)[i]
              ? saveRdb(p.servers[i + 1]!, `s${i + 1}.rdb`)
              : p.servers[i + 1]!.url,
          ),
        );
        const run = (dryRun: boolean, concurrency: number, batchSize: number): Promise<JsonReport> =>
          runMerge(
            resolvePlan({
              sources: urls.map((url, i) => ({ url, name: `s${i + 1}` })),
              target: { url: p.targetUrl },
              ...strategiesOf(opts),
              write: {
                mode: opts.mode,
                concurrency,
                batchSize,
                scanCount: opts.scanCount,
                ...(big ? { bigKeyBytes: 1 } : {}),
              },
              dryRun,
            }),
          );

        await expectFold({ run, reset: () => loadTarget(data.target), readTarget, target, model });
      }),
      { numRuns: runs, ...REPLAY },
    );
  }, 600_000);
});
