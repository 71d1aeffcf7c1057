/**
 * The parts of a run's report that the model of the fold (./model.ts) predicts, side by side, for the
 * fold's properties to compare with toEqual.
 */
import type { JsonReport } from '../../src/index.js';
import type { Prediction } from './model.js';

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
