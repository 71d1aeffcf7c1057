/**
 * The parts of a run's report that the model of the fold (./model.ts) predicts, side by side, for the
 * fold's properties to compare with toEqual.
 */
import { expect } from 'vitest';
import type { JsonReport } from '../../src/index.js';
import { canonical, type Prediction, type Store } from './model.js';

/** Cases per property where KVMERGE_PROPERTY_RUNS says (0: the property's own number). */
export const RUNS = Number(process.env.KVMERGE_PROPERTY_RUNS ?? '') || 0;

/** A failure is replayed with the seed and path it printed: KVMERGE_PROPERTY_SEED, KVMERGE_PROPERTY_PATH. */
export const REPLAY = process.env.KVMERGE_PROPERTY_SEED
  ? {
      seed: Number(process.env.KVMERGE_PROPERTY_SEED),
      path: process.env.KVMERGE_PROPERTY_PATH,
      endOnFailure: true,
    }
  : {};

/** The parts of a report that the model predicts. */
export function counters(report: JsonReport) {
  return {
    totals: report.totals,
    byType: report.byType,
    conflicts: report.conflicts.total,
    scannedPerSource: report.sources.map((s) => s.scanned),
  };
}

/** The model's prediction in the shape of counters(). */
export function predicted(p: Prediction) {
  return {
    totals: p.totals,
    byType: p.byType,
    conflicts: p.conflicts,
    scannedPerSource: p.scannedPerSource,
  };
}

/** One case of a fold property: how to run it, and what the model says. */
export interface FoldCase {
  run(dryRun: boolean, concurrency: number, batchSize: number): Promise<JsonReport>;
  /** Puts the target (and what else a run changes) back as the case starts. */
  reset(): Promise<void>;
  readTarget(): Promise<Store>;
  target: Store;
  model: Prediction;
}

/**
 * The fold's promise on one case: a dry run counts exactly what the real run will count (a `fail` step
 * included) and writes nothing; real runs, one key at a time and 16 batches of 2 at once, leave the
 * model's store and counters (SPEC §1.2: the same whatever the concurrency). typeMismatch `fail` stops
 * a run at the first mismatch; what was written before it depends on timing, so only the outcome is
 * checked then.
 */
export async function expectFold(c: FoldCase): Promise<void> {
  await c.reset();
  const dry = await c.run(true, 4, 2);
  expect(dry.outcome, dry.error).toBe('done');
  expect(counters(dry)).toEqual(predicted(c.model));
  expect(canonical(await c.readTarget())).toEqual(canonical(c.target));
  for (const [concurrency, batchSize] of [
    [1, 1],
    [16, 2],
  ] as const) {
    await c.reset();
    const report = await c.run(false, concurrency, batchSize);
    if (c.model.failed > 0) {
      expect(report.outcome).toBe('failed');
      continue;
    }
    expect(report.outcome, report.error).toBe('done');
    expect(canonical(await c.readTarget())).toEqual(canonical(c.model.store));
    expect(counters(report)).toEqual(predicted(c.model));
  }
}
