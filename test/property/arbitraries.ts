/**
 * The random datasets and options the fold's properties draw (fold.property.test.ts,
 * follow.property.test.ts): a target and 2–3 sources over a small pool of keys, so that overlaps,
 * merges and type mismatches are frequent; random strategy tables and merge options.
 */
import fc from 'fast-check';
import type { MergeOptions } from '../../src/types/strategy.js';
import { type Entry, MODEL_TYPES, type ModelTable, type ModelType } from './model.js';

// Latin1 strings: one char per byte. A key with 0xff and NUL (not valid UTF-8), the empty key, a key
// with braces and a newline.
export const KEYS = ['a', 'b', 'user:1', '{t}\nx', '\xff\x00k', ''] as const;
// The same without the NUL, for Pika 4.
export const NUL_FREE_KEYS = ['a', 'b', 'user:1', '{t}\nx', '\xffk', ''] as const;
// Elements, fields, members and values: few, so that two sides often share them; the empty string too.
const ELEMENTS = ['', 'x', 'y', 'z', '\xff\x00'] as const;

// ---- generators ----

const element = fc.constantFrom(...ELEMENTS);

/** A value of `type` with no TTL, of at most `most` elements (a list: one more). */
export function entryOf(type: ModelType, most = 4): fc.Arbitrary<Entry> {
  const ttl = 'none' as const;
  switch (type) {
    case 'string':
      return element.map((value) => ({ type, value, ttl }));
    case 'hash':
      return fc
        .uniqueArray(fc.tuple(element, element), { minLength: 1, maxLength: most, selector: ([f]) => f })
        .map((value) => ({ type, value, ttl }));
    case 'set':
      return fc
        .uniqueArray(element, { minLength: 1, maxLength: most })
        .map((value) => ({ type, value, ttl }));
    case 'zset':
      // Small integer scores: sums stay exact and read back as the same text.
      return fc
        .uniqueArray(fc.tuple(element, fc.integer({ min: -3, max: 3 })), {
          minLength: 1,
          maxLength: most,
          selector: ([m]) => m,
        })
        .map((value) => ({ type, value, ttl }));
    case 'list':
      return fc.array(element, { minLength: 1, maxLength: most + 1 }).map((value) => ({ type, value, ttl }));
  }
}

const anyType = fc.constantFrom(...MODEL_TYPES);

/**
 * One database: each key of the pool is held or not; a held key has its key's main type four times
 * out of five (so that same-type conflicts, hence merges, are frequent) and any type otherwise.
 */
function database(
  keys: readonly string[],
  mainTypes: readonly ModelType[],
  present: number,
): fc.Arbitrary<[string, Entry][]> {
  const holdings = keys.map((key, i) =>
    fc.option(
      fc
        .oneof({ weight: 4, arbitrary: fc.constant(mainTypes[i]!) }, { weight: 1, arbitrary: anyType })
        .chain((type) => entryOf(type))
        .map((entry): [string, Entry] => [key, entry]),
      { nil: undefined, freq: present },
    ),
  );
  return fc.tuple(...holdings).map((held) => held.filter((h) => h !== undefined));
}

export const datasetOf = (keys: readonly string[]) =>
  fc
    .tuple(
      fc.array(anyType, { minLength: keys.length, maxLength: keys.length }),
      fc.integer({ min: 2, max: 3 }),
    )
    .chain(([mainTypes, n]) =>
      fc.record({
        target: database(keys, mainTypes, 2),
        sources: fc.array(database(keys, mainTypes, 3), { minLength: n, maxLength: n }),
      }),
    );

const strategy = fc.constantFrom('override', 'merge', 'skip');
export const table: fc.Arbitrary<ModelTable> = fc.record({
  string: fc.constantFrom('override', 'skip'),
  hash: strategy,
  set: strategy,
  zset: strategy,
  list: strategy,
  // fail stops a real run at an unpredictable point, so it is drawn less often; see the property.
  typeMismatch: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('override', 'skip') },
    { weight: 1, arbitrary: fc.constant('fail') },
  ),
});
export const mergeOptions: fc.Arbitrary<MergeOptions> = fc.record({
  hashField: fc.constantFrom('source', 'target'),
  zsetScore: fc.constantFrom('source', 'target', 'max', 'min', 'sum'),
  list: fc.constantFrom('append', 'prepend', 'union'),
  ttl: fc.constantFrom('max', 'min', 'source', 'target'),
});
export const options = fc.record({
  table,
  merge: mergeOptions,
  mode: fc.constantFrom('auto', 'native'),
  scanCount: fc.integer({ min: 1, max: 10 }),
});

/** One case's options. */
export type Options = typeof options extends fc.Arbitrary<infer T> ? T : never;

/** A case's strategies, typeMismatch and merge rules as a configuration document takes them (other types: skip). */
export function strategiesOf(opts: Options) {
  return {
    strategies: {
      default: 'skip',
      string: opts.table.string,
      hash: opts.table.hash,
      set: opts.table.set,
      zset: opts.table.zset,
      list: opts.table.list,
    },
    typeMismatch: opts.table.typeMismatch,
    merge: opts.merge,
  };
}
