import type { Action, DataType } from '../types/strategy.js';

/** The counters of SPEC §5.3. scanned = created + overridden + merged + skipped + expired + failed. */
export interface Counts {
  scanned: number;
  created: number;
  overridden: number;
  merged: number;
  skipped: number;
  expired: number;
  failed: number;
  typeMismatch: number;
  sourceOverlap: number;
}

/** `none`: a key that vanished between SCAN and TYPE, so its type was never known (always expired). */
export type CountedType = DataType | 'none';

export const ACTION_COUNTER: Record<Action, keyof Counts> = {
  create: 'created',
  override: 'overridden',
  merge: 'merged',
  skip: 'skipped',
  expired: 'expired',
  fail: 'failed',
};

export function emptyCounts(): Counts {
  return {
    scanned: 0,
    created: 0,
    overridden: 0,
    merged: 0,
    skipped: 0,
    expired: 0,
    failed: 0,
    typeMismatch: 0,
    sourceOverlap: 0,
  };
}
