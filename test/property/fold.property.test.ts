/**
 * The fold of SPEC §1 as a property: for random small datasets (a target and 2–3 sources over a pool
 * of 6 keys, so that overlaps and type mismatches are frequent), random strategy tables and merge
 * options, the engine must leave the target holding what the model (./model.ts) computes, and
 * report the counters that the model predicts, whatever the concurrency, batch size and write mode
 * (SPEC §1.2), and a dry run must report the same counters without touching the target (§5.3, §6.1).
 *
 * It runs with Redis everywhere, and with Pika 4.0 as the target, Pika 4.0 sources, Pika 3.5
 * sources, and Pika 4.0 on both sides (../shared/servers). Pika 4 cuts keys at a NUL byte (refused, tested in pika.test.ts), so
 * its pool has no such key. A Pika 3.5 target keeps types side by side (pika.test.ts too).
 *
 * KVMERGE_PROPERTY_RUNS raises the number of cases (default 50 with Redis, 25 with Pika). A failure
 * prints the shrunk case: the datasets (latin1 strings, one char a byte) and the options.
 */

import fc from 'fast-check';
import { it } from 'vitest';
import { type JsonReport, resolvePlan, runMerge } from '../../src/index.js';
import { load } from '../harness/model-store.js';
import { datasetOf, options, strategiesOf } from './arbitraries.js';
import { foldModel, type Store } from './model.js';
import { expectFold, REPLAY, RUNS } from './predicted.js';
import { describeSides, type Sides, usePropertyServers } from './sides.js';

// ---- the property ----

const SIDES: Sides[] = [
  { source: 'redis', target: 'redis' },
  { source: 'redis', target: 'pika-4.0.1' },
  { source: 'pika-4.0.1', target: 'redis' },
  { source: 'pika-3.5.5', target: 'redis' },
  { source: 'pika-4.0.1', target: 'pika-4.0.1' },
  { source: 'redis', target: 'cluster' },
];

describeSides(SIDES, 'the fold of SPEC §1 against the model', foldProperty);

function foldProperty(sides: Sides): void {
  const pika = sides.source !== 'redis' || sides.target !== 'redis';
  const runs = RUNS || (pika ? 25 : 50);
  // Servers are expensive: started once, emptied between cases.
  const p = usePropertyServers(sides);
  const { keys, loadTarget, readTarget } = p;
  const dataset = datasetOf(keys);

  it('gives the model’s target and counters at any concurrency, batch size and write mode; a dry run predicts them', async () => {
    await fc.assert(
      fc.asyncProperty(dataset, options, async (data, opts) => {
        const target: Store = new Map(data.target);
        const sources: Store[] = data.sources.map((s) => new Map(s));
        const model = foldModel(target, sources, opts.table, opts.merge);

        const loadAll = async (): Promise<void> => {
          await Promise.all([
            loadTarget(data.target),
            ...p.clients.slice(1).map((c, i) => load(c, keys, data.sources[i] ?? [])),
          ]);
        };
        const run = (dryRun: boolean, concurrency: number, batchSize: number): Promise<JsonReport> =>
          runMerge(
            resolvePlan({
              sources: data.sources.map((_, i) => ({ url: p.servers[i + 1]!.url, name: `s${i + 1}` })),
              target: { url: p.targetUrl },
              ...strategiesOf(opts),
              write: { mode: opts.mode, concurrency, batchSize, scanCount: opts.scanCount },
              dryRun,
            }),
          );

        await expectFold({ run, reset: loadAll, readTarget, target, model });
      }),
      { numRuns: runs, ...REPLAY },
    );
  }, 600_000);
}
