/**
 * Verify's expectations (src/verify/expect.ts) against the property test's independent model of the
 * fold (test/property/model.ts): for a random prior, random source values and random strategies,
 * - without the journal, the model's result always passes (verify never flags a correct target,
 *   whatever the prior was);
 * - with the prior known, the model's result passes and the same value changed does not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MergeOptions, StrategyTable } from '../../src/types/strategy.js';
import {
  foldOutcomes,
  knownPrior,
  matches,
  type Observed,
  type Rules,
  unknownPriors,
} from '../../src/verify/expect.js';
import { type Entry, foldModel, type ModelTable } from '../property/model.js';

const RUNS = Number(process.env.KVMERGE_PROPERTY_RUNS ?? 500);
const TTL_MS = 60_000;

const bytes = fc.constantFrom('', 'a', 'b', 'c', '\u0000', '\u00ff');
const ttl = fc.constantFrom('none' as const, 'some' as const);
const uniqueBy = <T>(arb: fc.Arbitrary<T[]>, id: (t: T) => string) =>
  arb.map((xs) => [...new Map(xs.map((x) => [id(x), x])).values()]);
const entry: fc.Arbitrary<Entry> = fc.oneof(
  fc.record({ type: fc.constant('string' as const), value: bytes, ttl }),
  fc.record({
    type: fc.constant('hash' as const),
    value: uniqueBy(fc.array(fc.tuple(bytes, bytes), { minLength: 1 }), ([f]) => f),
    ttl,
  }),
  fc.record({
    type: fc.constant('set' as const),
    value: uniqueBy(fc.array(bytes, { minLength: 1 }), (m) => m),
    ttl,
  }),
  fc.record({
    type: fc.constant('zset' as const),
    value: uniqueBy(fc.array(fc.tuple(bytes, fc.integer({ min: -3, max: 3 })), { minLength: 1 }), ([m]) => m),
    ttl,
  }),
  fc.record({ type: fc.constant('list' as const), value: fc.array(bytes, { minLength: 1 }), ttl }),
);
const strategy = fc.constantFrom('override' as const, 'merge' as const, 'skip' as const);
const table: fc.Arbitrary<ModelTable> = fc.record({
  string: fc.constantFrom('override' as const, 'skip' as const),
  hash: strategy,
  set: strategy,
  zset: strategy,
  list: strategy,
  typeMismatch: fc.constantFrom('override' as const, 'skip' as const, 'fail' as const),
});
const merge: fc.Arbitrary<MergeOptions> = fc.record({
  hashField: fc.constantFrom('source' as const, 'target' as const),
  zsetScore: fc.constantFrom(
    'source' as const,
    'target' as const,
    'max' as const,
    'min' as const,
    'sum' as const,
  ),
  list: fc.constantFrom('append' as const, 'prepend' as const, 'union' as const),
  ttl: fc.constantFrom('max' as const, 'min' as const, 'source' as const, 'target' as const),
});

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A model entry as verify reads a value (codec form); an abstract `some` TTL is one fixed lifetime. */
function observed(e: Entry): Observed {
  const t = e.ttl === 'none' ? null : TTL_MS;
  switch (e.type) {
    case 'string':
      return { type: e.type, value: b(e.value), ttl: t };
    case 'hash':
      return { type: e.type, value: e.value.flatMap(([f, v]) => [b(f), b(v)]), ttl: t };
    case 'set':
    case 'list':
      return { type: e.type, value: e.value.map(b), ttl: t };
    case 'zset':
      return { type: e.type, value: e.value.flatMap(([m, s]) => [b(String(s)), b(m)]), ttl: t };
  }
}

/** The same value with one more element (or a longer string): never equal to it. */
function changed(e: Entry): Entry {
  switch (e.type) {
    case 'string':
      return { ...e, value: `${e.value}!` };
    case 'hash':
      return { ...e, value: [...e.value, ['new-field', 'x']] };
    case 'set':
      return { ...e, value: [...e.value, 'new-member'] };
    case 'zset':
      return { ...e, value: [...e.value, ['new-member', 0]] };
    case 'list':
      return { ...e, value: [...e.value, 'new-element'] };
  }
}

const rulesOf = (t: ModelTable, m: MergeOptions): Rules => ({
  table: { ...t, stream: 'skip', other: 'skip' } as StrategyTable,
  merge: m,
  ttlToleranceMs: 10,
});

describe("verify's fold agrees with the model of SPEC §1", () => {
  it('without the journal, the correct target always passes, whatever the prior', () => {
    fc.assert(
      fc.property(
        fc.option(entry),
        fc.array(entry, { maxLength: 3 }),
        table,
        merge,
        (prior, sources, t, m) => {
          const target = new Map(prior ? [['k', prior]] : []);
          const result = foldModel(
            target,
            sources.map((s) => new Map([['k', s]])),
            t,
            m,
          ).store.get('k');
          const outcomes = foldOutcomes(unknownPriors(), sources.map(observed), rulesOf(t, m));
          const found = result ? observed(result) : null;
          expect(outcomes.some((o) => matches(found, o, rulesOf(t, m)))).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('with the prior known, exactly the correct target passes', () => {
    fc.assert(
      fc.property(
        fc.option(entry),
        fc.array(entry, { maxLength: 3 }),
        table,
        merge,
        (prior, sources, t, m) => {
          const target = new Map(prior ? [['k', prior]] : []);
          const result = foldModel(
            target,
            sources.map((s) => new Map([['k', s]])),
            t,
            m,
          ).store.get('k');
          const start = knownPrior(prior ? observed(prior) : null);
          const [outcome] = foldOutcomes([start], sources.map(observed), rulesOf(t, m));
          const rules = rulesOf(t, m);
          expect(matches(result ? observed(result) : null, outcome!, rules)).toBe(true);
          if (result) expect(matches(observed(changed(result)), outcome!, rules)).toBe(false);
          else
            expect(matches(observed({ type: 'string', value: 'x', ttl: 'none' }), outcome!, rules)).toBe(
              false,
            );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('without the journal, a key that override must have replaced is checked exactly', () => {
    const rules = rulesOf(
      {
        string: 'override',
        hash: 'override',
        set: 'override',
        zset: 'override',
        list: 'override',
        typeMismatch: 'override',
      },
      { hashField: 'source', zsetScore: 'source', list: 'append', ttl: 'max' },
    );
    const outcomes = foldOutcomes(
      unknownPriors(),
      [observed({ type: 'string', value: 'v', ttl: 'none' })],
      rules,
    );
    expect(
      outcomes.some((o) => matches(observed({ type: 'string', value: 'v', ttl: 'none' }), o, rules)),
    ).toBe(true);
    expect(
      outcomes.some((o) => matches(observed({ type: 'string', value: 'w', ttl: 'none' }), o, rules)),
    ).toBe(false);
    expect(outcomes.some((o) => matches(null, o, rules))).toBe(false);
  });

  it('a key whose lifetime may be over by now is no difference when it is gone', () => {
    const hashes = { string: 'override', hash: 'merge', set: 'merge', zset: 'merge', list: 'merge' } as const;
    const rules = (ttl: MergeOptions['ttl'], hash: 'merge' | 'skip' = 'merge'): Rules =>
      rulesOf(
        { ...hashes, hash, typeMismatch: 'override' },
        { hashField: 'source', zsetScore: 'source', list: 'append', ttl },
      );
    const source = (ms: number | null): Observed => ({ type: 'hash', value: [b('f'), b('s')], ttl: ms });
    const gone = (starts: ReturnType<typeof unknownPriors>, ms: number | null, r: Rules): boolean =>
      foldOutcomes(starts, [source(ms)], r).some((o) => matches(null, o, r));
    // The journal's prior: a hash whose expiry (5 ms from now, within the tolerance) min keeps.
    const prior = (ms: number): ReturnType<typeof unknownPriors> => [
      knownPrior({ type: 'hash', value: [b('t'), b('t')], ttl: ms }),
    ];
    expect(gone(prior(5), null, rules('min'))).toBe(true);
    expect(gone(prior(60_000), null, rules('min'))).toBe(false);
    expect(gone(prior(5), null, rules('source'))).toBe(false);
    // Without the journal, a lifetime an unknown prior decides is not taken to be over: a key the run
    // kept or merged into must be there (else a deleted one would pass).
    for (const ttl of ['max', 'min', 'source', 'target'] as const) {
      expect(gone(unknownPriors(), null, rules(ttl, 'skip'))).toBe(false);
      expect(gone(unknownPriors(), 60_000, rules(ttl))).toBe(false);
    }
    // A source's own lifetime that is over (the source's copy expires with it).
    expect(gone(unknownPriors(), 5, rules('source'))).toBe(true);
  });
});
