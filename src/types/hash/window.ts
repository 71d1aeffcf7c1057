import type { WindowOps } from '../window-ops.js';
import { bytesOf, scanWalk } from '../window-parts.js';
import { hashCodec } from './codec.js';

/** A hash's windows are HSCAN pages: field, value, … */
export const hashWindow: WindowOps = {
  walk: (key, opts) => scanWalk('HSCAN', key, opts),
  measure: (flat) => ({ bytes: bytesOf(flat), elements: flat.length / 2 }),
  write: (into, flat, dialect) => hashCodec.write(into, flat, dialect),
  merge: async ({ key, opts, dialect }) => ({
    fromTail: false,
    commands: async (flat) => hashCodec.merge(key, flat, opts, undefined, dialect),
  }),
  clearReads: true,
};
