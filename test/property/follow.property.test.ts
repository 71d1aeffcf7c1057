/**
 * The live merge's promise (SPEC §9.1) as a property: the target is loaded with a random prior and the
 * sources with random data; a follow copies them; then every source is rewritten to a second random
 * dataset while the follow runs. Once it has applied what it heard, the target must hold exactly what
 * the model (./model.ts) computes for the fold of the prior and the sources' *second* datasets,
 * whatever the strategy table and merge options (typeMismatch `fail` aside: it stops a run).
 *
 * Run into Redis, a Redis Cluster and Pika 4.0 as targets, and from Pika 4.0 sources (no keyspace
 * notifications: followed by passes, `--follow-interval 1`). KVMERGE_PROPERTY_RUNS raises the cases
 * (default 8 per pair of sides).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { resolvePlan, runMerge } from '../../src/index.js';
import { until } from '../harness/follow.js';
import { latin1, load } from '../harness/model-store.js';
import { datasetOf, options, strategiesOf } from './arbitraries.js';
import { canonical, type Entry, foldModel, type Store } from './model.js';
import { describeSides, type Sides, usePropertyServers } from './sides.js';

const RUNS = Number(process.env.KVMERGE_PROPERTY_RUNS ?? '') || 8;
/** One key per source, outside the pool, written after its changes: heard once it is on the target. */
const marker = (i: number): string => `kvmerge-follow-marker:${i}`;
const MARKERS = [0, 1, 2].map(marker);

const SIDES: Sides[] = [
  { source: 'redis', target: 'redis' },
  { source: 'redis', target: 'cluster' },
  { source: 'redis', target: 'pika-4.0.1' },
  { source: 'pika-4.0.1', target: 'redis' },
];

describeSides(SIDES, '--follow keeps the fold of SPEC §1 against the model', followProperty);

function followProperty(sides: Sides): void {
  const { source } = sides;
  // Redis sources publish their changes; Pika sources are followed by passes.
  const p = usePropertyServers(
    sides,
    source === 'redis' ? { args: ['--notify-keyspace-events', 'KEA'] } : {},
  );
  const { keys } = p;
  const before = datasetOf(keys);
  const dir = mkdtempSync(join(tmpdir(), 'kvmerge-follow-prop-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;

  const loadTarget = async (entries: readonly [string, Entry][]): Promise<void> => {
    if (!p.cluster) await p.clients[0]!.del(...MARKERS.map(latin1));
    await p.loadTarget(entries);
  };
  const readTarget = async (): Promise<Store> => {
    const store = await p.readTarget();
    for (const m of MARKERS) store.delete(m);
    return store;
  };

  it('after the sources changed under it, the target is the model’s fold of the prior and their new data', async () => {
    await fc.assert(
      fc.asyncProperty(
        before,
        fc.array(fc.integer({ min: 0, max: 2 ** 31 }), { minLength: 3, maxLength: 3 }),
        options.filter((o) => o.table.typeMismatch !== 'fail'),
        async (data, seeds, opts) => {
          // The sources' second datasets, over the same pool (same count of sources).
          const after = fc.sample(datasetOf(keys), { seed: seeds[0]!, numRuns: 1 })[0]!;
          const sourcesAfter = data.sources.map((_, i) => after.sources[i] ?? after.sources[0] ?? []);
          const model = foldModel(
            new Map(data.target),
            sourcesAfter.map((s) => new Map(s)),
            opts.table,
            opts.merge,
          );
          await loadTarget(data.target);
          for (const [i, c] of p.clients.slice(1).entries()) {
            await c.del(...MARKERS.map(latin1));
            await load(c, keys, data.sources[i] ?? []);
          }
          const stop = new AbortController();
          const said: string[] = [];
          const plan = resolvePlan(
            {
              sources: data.sources.map((_, i) => ({ url: p.servers[i + 1]!.url, name: `s${i + 1}` })),
              target: { url: p.targetUrl },
              ...strategiesOf(opts),
              write: { mode: opts.mode, scanCount: opts.scanCount },
            },
            { backup: join(dir, `case-${n++}.journal`), follow: true, followInterval: 1 },
          );
          const run = runMerge(plan, { signal: stop.signal, log: (line) => said.push(line) });
          const targetClient = p.cluster ? p.cluster.client() : p.clients[0]!;
          try {
            await until(
              async () => said.some((l) => l.includes('caught up')),
              30_000,
              'the follow caught up',
            );
            for (const [i, c] of p.clients.slice(1, 1 + data.sources.length).entries()) {
              await load(c, keys, sourcesAfter[i]!);
              await c.set(latin1(marker(i)), 'end');
            }
            // Each source's marker is written after its changes: once every one is on the target, the
            // changes before it were heard (a source's events arrive in order).
            const markers = MARKERS.slice(0, data.sources.length);
            // Only the markers are read meanwhile: the keys the follow is writing may change type under a reader.
            await until(
              async () => {
                const found = await Promise.all(markers.map((m) => targetClient.exists(latin1(m))));
                return found.every((n) => n === 1);
              },
              30_000,
              'the markers',
            );
            // A pass (Pika) or a batch still in flight: the stop applies what is pending.
            await new Promise((r) => setTimeout(r, source === 'redis' ? 200 : 2_500));
          } finally {
            stop.abort();
            if (p.cluster) targetClient.disconnect();
          }
          const report = await run;
          expect(report.outcome, report.error).toBe('done');
          expect(report.follow?.failed).toBe(0);
          expect(canonical(await readTarget())).toEqual(canonical(model.store));
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
  }, 900_000);
}
