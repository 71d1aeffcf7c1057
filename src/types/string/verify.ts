import { type Mismatch, STRING_CHUNK, showHeld, type WindowedVerify } from '../compare/held.js';
import { type ZipMismatch, zip } from '../compare/sequence.js';
import { showBytes } from '../compare/show.js';

/** A string as verify compares it: its bytes, in chunks of STRING_CHUNK when big. It never merges. */

/** Two chunks that differ: shown from their first differing byte, which is named. */
function chunkMismatch(whole: string, at: ZipMismatch): Mismatch {
  const a = (at.expected as Buffer | undefined) ?? Buffer.alloc(0);
  const b = (at.found as Buffer | undefined) ?? Buffer.alloc(0);
  let d = 0;
  while (d < a.length && d < b.length && a[d] === b[d]) d++;
  const where = `at byte ${at.index * STRING_CHUNK + d}`;
  const tail = (x: Buffer): string => (d < x.length ? showBytes(x.subarray(d)) : 'the end');
  return { expected: `${whole} ${tail(a)} ${where}`, found: `${tail(b)} ${where}` };
}

export const stringVerify: WindowedVerify = {
  same: (a, b) => (a as Buffer).equals(b as Buffer),
  // Nothing is ever merged into a string.
  contains: () => true,
  show: (value) => showBytes(value as Buffer),
  keepsTtl: () => true,
  elements: 'bytes',
  size: (value) => (value as Buffer).length,
  windowsOf(value) {
    const bytes = value as Buffer;
    const out: Buffer[][] = [];
    for (let at = 0; at < bytes.length; at += STRING_CHUNK) out.push([bytes.subarray(at, at + STRING_CHUNK)]);
    return out;
  },
  chunked: true,
  windowSize: (window) => window.reduce((n, b) => n + b.length, 0),
  /** An exact outcome is one value, compared chunk by chunk. */
  async compare(found, outcome) {
    if (outcome.kind === 'contains') return null;
    const expected = outcome.recipe.base;
    if (expected.size !== found.size) return { expected: showHeld(expected, 'bytes'), found: 'not as long' };
    const at = await zip(expected.windows(), found.windows(), (a, b) => (a as Buffer).equals(b as Buffer));
    return at && chunkMismatch(`${showHeld(expected, 'bytes')} with`, at);
  },
};
