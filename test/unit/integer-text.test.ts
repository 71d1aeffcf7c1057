import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { integerText } from '../../src/rdb/integer-text.js';
import { formatScore } from '../../src/types/zset/codec.js';

describe('integerText', () => {
  it('writes the same bytes as String() for every safe integer', () => {
    const edges = [0, -0, 1, -1, 9, 10, -10, 99, 100, 127, -128, 32767, -32768, 2 ** 31 - 1, -(2 ** 31)];
    for (const n of [...edges, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER])
      expect(integerText(n).toString()).toBe(String(n));
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => integerText(n).toString() === String(n)),
      { numRuns: 5000 },
    );
  });

  it('falls back to String() where a number is no safe integer', () => {
    for (const n of [2 ** 60, -(2 ** 60), 1.5]) expect(integerText(n).toString()).toBe(String(n));
  });

  it('gives each call a buffer of its own', () => {
    const a = integerText(42);
    const b = integerText(42);
    a[0] = 0x30;
    expect(b.toString()).toBe('42');
  });
});

describe('formatScore', () => {
  it('prints a score as String() does, infinities as Redis does', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true })),
        (n) => formatScore(n).toString() === String(n),
      ),
      { numRuns: 5000 },
    );
    expect(formatScore(Number.POSITIVE_INFINITY).toString()).toBe('inf');
    expect(formatScore(Number.NEGATIVE_INFINITY).toString()).toBe('-inf');
  });
});
