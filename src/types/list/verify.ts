import { SeenKeys } from '../../common/seen-keys.js';
import type { MergeOptions } from '../../types/strategy.js';
import { type Held, id, type Mismatch, type Recipe, type WindowedVerify } from '../compare/held.js';
import { concat, itemMismatch, zip } from '../compare/sequence.js';
import { items, showBytes } from '../compare/show.js';
import { listCodec } from './codec.js';

/** A list as verify compares it: its elements in order. */

const sameElement = (a: unknown, b: unknown): boolean => (a as Buffer).equals(b as Buffer);
const showElement = (e: unknown): string => showBytes(e as Buffer);

/**
 * Exact: append is base ++ m1 ++ … ++ mk, prepend mk ++ … ++ m1 ++ base, compared element by
 * element. Union is base then each merged element not held yet: that needs every element so far,
 * which is held as a 64-bit fingerprint each (SeenKeys, ~11 bytes an element), not the elements.
 */
async function exactList(found: Held, recipe: Recipe, opts: MergeOptions): Promise<Mismatch | null> {
  const { base, merged } = recipe;
  let expected: AsyncGenerator<unknown[]>;
  if (opts.list === 'union') expected = unionOf([base, ...merged]);
  else {
    const order = opts.list === 'append' ? [base, ...merged] : [...merged].reverse().concat(base);
    const length = order.reduce((n, v) => n + v.size, 0);
    if (length !== found.size) return { expected: `list of ${length} elements`, found: 'not as many' };
    expected = concat(order);
  }
  const at = await zip(expected, found.windows(), sameElement);
  return at && itemMismatch('a list with', at, showElement);
}

async function* unionOf(values: Held[]): AsyncGenerator<unknown[]> {
  const seen = new SeenKeys();
  for await (const window of concat(values)) {
    const fresh = (window as Buffer[]).filter((e) => seen.add(e));
    if (fresh.length > 0) yield fresh;
  }
}

/**
 * Contains: append ends with m1 ++ … ++ mk, prepend starts with mk ++ … ++ m1 (compared element by
 * element from that index); union holds every merged element, which needs the target's elements as
 * fingerprints (SeenKeys, ~11 bytes an element).
 */
async function containsList(found: Held, merged: Held[], opts: MergeOptions): Promise<Mismatch | null> {
  if (opts.list === 'union') {
    const held = new SeenKeys();
    for await (const window of found.windows()) for (const e of window as Buffer[]) held.add(e);
    for await (const window of concat(merged)) {
      const missing = (window as Buffer[]).find((e) => !held.has(e));
      if (missing) return { expected: `list that holds ${showBytes(missing)}`, found: 'not held' };
    }
    return null;
  }
  const run = opts.list === 'append' ? merged : [...merged].reverse();
  const length = run.reduce((n, v) => n + v.size, 0);
  const what = opts.list === 'append' ? 'ends' : 'starts';
  if (length > found.size) return { expected: `list that ${what} with ${length} elements`, found: 'fewer' };
  const from = opts.list === 'append' ? found.size - length : 0;
  const at = await zip(concat(run), found.windows(from), sameElement, true);
  if (!at) return null;
  return itemMismatch(
    `a list that ${what} with the sources' elements:`,
    { ...at, index: at.index + from },
    showElement,
  );
}

export const listVerify: WindowedVerify = {
  same(a, b) {
    const x = a as Buffer[];
    const y = b as Buffer[];
    return x.length === y.length && x.every((e, i) => e.equals(y[i]!));
  },
  /** append: U ++ v1 ++ … ++ vk; prepend: vk ++ … ++ v1 ++ U; union: every element is held. */
  contains(found, merged, opts) {
    const held = found as Buffer[];
    if (opts.list === 'union') {
      const ids = new Set(held.map(id));
      return merged.every((v) => (v as Buffer[]).every((e) => ids.has(id(e))));
    }
    const run =
      opts.list === 'append' ? (merged as Buffer[][]).flat() : [...(merged as Buffer[][])].reverse().flat();
    if (run.length > held.length) return false;
    const at = opts.list === 'append' ? held.length - run.length : 0;
    return run.every((e, i) => e.equals(held[at + i]!));
  },
  show: (value) => `list [${items((value as Buffer[]).map(showBytes))}]`,
  keepsTtl: () => true,
  elements: 'elements',
  size: (value) => listCodec.size(value as Buffer[]),
  windowsOf: (value, from) => [(value as Buffer[]).slice(from)],
  windowSize: (window) => window.length,
  compare: (found, outcome, opts) =>
    outcome.kind === 'exact'
      ? exactList(found, outcome.recipe, opts)
      : containsList(found, outcome.merged, opts),
};
