/**
 * The pure merge of each codec (mergeValues, DESIGN.md seam 4) against the property test's model of
 * SPEC §1.4 (test/property/model.ts), which shares no code with the engine: for random values and
 * every merge option, both definitions give the same value. This is what keeps the two one definition.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CODECS } from '../../src/types/index.js';
import {
  HASH_FIELD_WINNERS,
  LIST_MERGES,
  type MergeOptions,
  TTL_RULES,
  ZSET_SCORE_RULES,
} from '../../src/types/strategy.js';
import { parseScore } from '../../src/types/zset/codec.js';
import { canonical, type Entry, mergeEntries } from '../property/model.js';

const RUNS = Number(process.env.KVMERGE_PROPERTY_RUNS ?? 300);

/** Few distinct bytes, so that fields, members and elements collide often. */
const bytes = fc.constantFrom('', 'a', 'b', 'c', '\u0000', '\u00ff', 'ab', '\n');
const score = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(0.5, -1.25, 1e300, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
);
const uniqueBy = <T>(arb: fc.Arbitrary<T[]>, id: (t: T) => string) =>
  arb.map((xs) => [...new Map(xs.map((x) => [id(x), x])).values()]);

const entryOf = (type: 'hash' | 'set' | 'zset' | 'list'): fc.Arbitrary<Entry> => {
  switch (type) {
    case 'hash':
      return uniqueBy(fc.array(fc.tuple(bytes, bytes)), ([f]) => f).map((value) => ({
        type,
        value,
        ttl: 'none',
      }));
    case 'set':
      return uniqueBy(fc.array(bytes), (m) => m).map((value) => ({ type, value, ttl: 'none' }));
    case 'zset':
      return uniqueBy(fc.array(fc.tuple(bytes, score)), ([m]) => m).map((value) => ({
        type,
        value,
        ttl: 'none',
      }));
    case 'list':
      return fc.array(bytes).map((value) => ({ type, value, ttl: 'none' }));
  }
};

const options: fc.Arbitrary<MergeOptions> = fc.record({
  hashField: fc.constantFrom(...HASH_FIELD_WINNERS),
  zsetScore: fc.constantFrom(...ZSET_SCORE_RULES),
  list: fc.constantFrom(...LIST_MERGES),
  ttl: fc.constantFrom(...TTL_RULES),
});

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const s = (x: Buffer): string => x.toString('latin1');

/** The model's value as the codec holds it (flat Buffer arrays; zset score first, as text). */
function toNative(e: Entry): Buffer[] {
  switch (e.type) {
    case 'hash':
      return e.value.flatMap(([f, v]) => [b(f), b(v)]);
    case 'set':
    case 'list':
      return e.value.map(b);
    case 'zset':
      return e.value.flatMap(([m, sc]) => [b(String(sc).replace('Infinity', 'inf')), b(m)]);
    case 'string':
      return [b(e.value)];
  }
}

function fromNative(type: Entry['type'], flat: Buffer[]): Entry {
  const pairs = <T>(f: (a: Buffer, z: Buffer) => T): T[] => {
    const out: T[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push(f(flat[i]!, flat[i + 1]!));
    return out;
  };
  switch (type) {
    case 'hash':
      return { type, value: pairs((f, v) => [s(f), s(v)]), ttl: 'none' };
    case 'set':
    case 'list':
      return { type, value: flat.map(s), ttl: 'none' };
    case 'zset':
      return { type, value: pairs((sc, m) => [s(m), parseScore(sc)]), ttl: 'none' };
    default:
      throw new Error(type);
  }
}

describe('mergeValues agrees with the model of SPEC §1.4', () => {
  for (const type of ['hash', 'set', 'zset', 'list'] as const) {
    it(`${type}: the codec's pure merge equals the model's merge for random values and options`, () => {
      fc.assert(
        fc.property(entryOf(type), entryOf(type), options, (current, incoming, opts) => {
          const merged = CODECS[type].mergeValues(toNative(current), toNative(incoming), opts) as Buffer[];
          const expected = mergeEntries(current, incoming, opts);
          const got = fromNative(type, merged);
          expect(canonical(new Map([['k', { ...got, ttl: expected.ttl }]]))).toEqual(
            canonical(new Map([['k', expected]])),
          );
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('string and stream refuse to merge (SPEC §1.4)', () => {
    expect(() => CODECS.string.mergeValues(b('a'), b('b'), {} as MergeOptions)).toThrow(/cannot be merged/);
    expect(() => CODECS.stream.mergeValues({}, {}, {} as MergeOptions)).toThrow(/cannot be merged/);
  });

  it('zset sum adds the scores, and a list union adds an element once: [a] ∪ [b, a, b] = [a, b]', () => {
    const opts: MergeOptions = { hashField: 'source', zsetScore: 'sum', list: 'union', ttl: 'max' };
    const z = CODECS.zset.mergeValues(
      [b('1.5'), b('m')],
      [b('2'), b('m'), b('-inf'), b('n')],
      opts,
    ) as Buffer[];
    expect(z.map(s)).toEqual(['3.5', 'm', '-inf', 'n']);
    const l = CODECS.list.mergeValues([b('a')], [b('b'), b('a'), b('b')], opts) as Buffer[];
    expect(l.map(s)).toEqual(['a', 'b']);
  });
});
