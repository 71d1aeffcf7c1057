import type { WindowOps } from '../window-ops.js';
import { bytesOf, scanWalk } from '../window-parts.js';
import { setCodec } from './codec.js';

/** A set's windows are SSCAN pages of members. */
export const setWindow: WindowOps = {
  walk: (key, opts) => scanWalk('SSCAN', key, opts),
  measure: (members) => ({ bytes: bytesOf(members), elements: members.length }),
  write: (into, members, dialect) => setCodec.write(into, members, dialect),
  merge: async ({ key, opts, dialect }) => ({
    fromTail: false,
    commands: async (members) => setCodec.merge(key, members, opts, undefined, dialect),
  }),
  clearReads: true,
};
