/**
 * merge.ttl (SPEC §1.5) is one rule: the merge applies it (write/ttl.ts mergedDeadline) and verify
 * predicts with it (verify/expect.ts mergeLifetime), where a side may be unknown (an unknown prior).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TTL_RULES } from '../../src/types/strategy.js';
import { type Lifetime, mergeLifetime } from '../../src/verify/expect.js';
import { mergedDeadline } from '../../src/write/ttl.js';

const rule = fc.constantFrom(...TTL_RULES);
const known = fc.oneof(fc.constant(null), fc.integer({ min: -1_000, max: 1_000_000 }));

describe('the TTL merge rule', () => {
  it('verify predicts the lifetime the merge gives, for every rule and known lifetimes', () => {
    fc.assert(
      fc.property(rule, known, known, (r, source, target) => {
        expect(mergeLifetime(r, source, target)).toBe(mergedDeadline(r, source, target));
      }),
    );
  });

  it('with one side unknown, verify names a lifetime exactly when every value of that side gives it', () => {
    fc.assert(
      fc.property(
        rule,
        known,
        fc.boolean(),
        fc.array(known, { minLength: 8 }),
        (r, other, sourceUnknown, values) => {
          const at = (v: number | null) =>
            sourceUnknown ? mergedDeadline(r, v, other) : mergedDeadline(r, other, v);
          const predicted = mergeLifetime(
            r,
            sourceUnknown ? 'unknown' : other,
            sourceUnknown ? other : 'unknown',
          );
          // The unknown side may be anything: none, the longest and the shortest lifetimes included.
          const outcomes = new Set([null, -2_000_000, 2_000_000, ...values].map(at));
          if (predicted === 'unknown') expect(outcomes.size).toBeGreaterThan(1);
          else expect([...outcomes]).toEqual([predicted]);
        },
      ),
    );
  });

  it('keeps what no unknown side can change, as verify always did', () => {
    const cases: [(typeof TTL_RULES)[number], Lifetime, Lifetime, Lifetime][] = [
      ['source', 5_000, 'unknown', 5_000],
      ['source', 'unknown', 5_000, 'unknown'],
      ['target', 5_000, 'unknown', 'unknown'],
      ['target', 'unknown', null, null],
      ['max', null, 'unknown', null],
      ['max', 'unknown', null, null],
      ['max', 5_000, 'unknown', 'unknown'],
      ['min', null, 'unknown', 'unknown'],
      ['min', 'unknown', 5_000, 'unknown'],
      ['min', 'unknown', 'unknown', 'unknown'],
      ['max', 'unknown', 'unknown', 'unknown'],
    ];
    for (const [r, source, target, expected] of cases)
      expect(mergeLifetime(r, source, target)).toBe(expected);
  });
});
