import { showHeld, type WindowedVerify } from '../compare/held.js';
import { itemMismatch, zip } from '../compare/sequence.js';
import { items } from '../compare/show.js';
import type { StreamValue } from './codec.js';
import { keepsStreamTtl, streamCodec } from './codec.js';

/** A stream as verify compares it: its entries (id, fields) in order. A stream never merges (SPEC §1.4). */

type Entry = [Buffer, Buffer[]];

function sameEntry(a: unknown, b: unknown): boolean {
  const [xid, xf] = a as Entry;
  const [yid, yf] = b as Entry;
  return xid.equals(yid) && xf.length === yf.length && xf.every((f, i) => f.equals(yf[i]!));
}

export const streamVerify: WindowedVerify = {
  same(a, b) {
    const x = (a as StreamValue).entries;
    const y = (b as StreamValue).entries;
    return x.length === y.length && x.every((e, i) => sameEntry(e, y[i]!));
  },
  // Nothing is ever merged into a stream.
  contains: () => true,
  show: (value) => `stream [${items((value as StreamValue).entries.map(([entryId]) => entryId.toString()))}]`,
  /** Where the server keeps no TTL on a stream, its lifetime is not compared. */
  keepsTtl: keepsStreamTtl,
  elements: 'entries',
  size: (value) => streamCodec.size(value as StreamValue),
  windowsOf: (value) => [(value as StreamValue).entries],
  windowSize: (window) => window.length,
  /** An exact outcome is one value, compared entry by entry. */
  async compare(found, outcome) {
    if (outcome.kind === 'contains') return null;
    const expected = outcome.recipe.base;
    const at = await zip(expected.windows(), found.windows(), sameEntry);
    return (
      at &&
      itemMismatch(`${showHeld(expected, 'entries')} with`, at, (e) => `entry ${(e as Entry)[0].toString()}`)
    );
  },
};
