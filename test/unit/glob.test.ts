import { describe, expect, it } from 'vitest';
import { globMatch, NESTING_LIMIT, stringMatchLen } from '../../src/common/glob.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** [pattern, subject, expected], both as latin1 strings so that every byte 0..255 is one char. */
type Case = [string, string, boolean];

function check(cases: Case[]): void {
  for (const [pattern, subject, expected] of cases) {
    expect(
      globMatch(b(pattern), b(subject)),
      `${JSON.stringify(pattern)} vs ${JSON.stringify(subject)}`,
    ).toBe(expected);
  }
}

describe('globMatch: literals, ? and *', () => {
  it('matches literal bytes exactly and case-sensitively', () => {
    check([
      ['abc', 'abc', true],
      ['abc', 'ABC', false],
      ['abc', 'abcd', false],
      ['abcd', 'abc', false],
      ['', '', true],
      ['', 'a', false],
      ['a', '', false],
    ]);
  });

  it('? matches exactly one byte', () => {
    check([
      ['?', 'a', true],
      ['?', '', false],
      ['?', 'ab', false],
      ['a?c', 'abc', true],
      ['a?c', 'ac', false],
      ['??', '\x00\xff', true],
    ]);
  });

  it('* matches any run of bytes, consecutive stars count as one', () => {
    check([
      ['*', 'anything', true],
      ['a*', 'a', true],
      ['a*', 'abc', true],
      ['*c', 'abc', true],
      ['*c', 'abd', false],
      ['a*c', 'ac', true],
      ['a*c', 'abbbc', true],
      ['a*c', 'abbbd', false],
      ['a**c', 'abc', true],
      ['user:*:name', 'user:42:name', true],
      ['user:*:name', 'user:42:mail', false],
      ['*a*b*c', 'xaybzc', true],
      ['*a*b*c', 'xaybz', false],
      ['a*b*', 'ab', true],
      ['a*b**', 'axxb', true],
    ]);
  });

  it('the pattern * selects the empty key (KEYS/SCAN shortcut) but other patterns need a byte', () => {
    check([
      ['*', '', true],
      ['**', '', false],
      ['*a', '', false],
      ['a*', '', false],
      ['[a]', '', false],
    ]);
    // stringmatchlen itself never runs its loop on an empty subject
    expect(stringMatchLen(b('*'), b(''))).toBe(false);
    expect(stringMatchLen(b(''), b(''))).toBe(true);
    expect(stringMatchLen(b('*'), b('x'))).toBe(true);
  });
});

describe('globMatch: character classes', () => {
  it('[abc] and [^abc] match one byte', () => {
    check([
      ['[abc]', 'a', true],
      ['[abc]', 'c', true],
      ['[abc]', 'd', false],
      ['[abc]', 'ab', false],
      ['[^abc]', 'd', true],
      ['[^abc]', 'a', false],
      ['[^abc]', '', false],
      ['x[ab]y', 'xby', true],
      ['[]', ']', false],
      ['[]]', ']', false],
    ]);
  });

  it('ranges are inclusive, reversed ranges are the same range', () => {
    check([
      ['[a-c]', 'a', true],
      ['[a-c]', 'b', true],
      ['[a-c]', 'c', true],
      ['[a-c]', 'd', false],
      ['[c-a]', 'b', true],
      ['[c-a]', 'd', false],
      ['[^a-c]', 'b', false],
      ['[^a-c]', 'z', true],
      ['[0-9a-f]', 'e', true],
      ['[0-9a-f]', 'g', false],
      ['[a-a]', 'a', true],
    ]);
  });

  it('a dash with no byte after it before the end of the pattern is literal', () => {
    check([
      ['[-a]', '-', true],
      ['[a-', '-', true],
      ['[a-', 'a', true],
      ['[a-', 'b', false],
    ]);
  });

  it('in [a-] the ] is the upper bound of a range and the class runs to the end of the pattern', () => {
    // range ']'(0x5d)..'a'(0x61): contains ^ _ ` and a, the class is never closed
    check([
      ['[a-]', 'a', true],
      ['[a-]', '_', true],
      ['[a-]', ']', true],
      ['[a-]', 'b', false],
      ['[a-]', '-', false],
      ['[a-]x', 'x', true],
      ['[a-]x', 'ax', false],
    ]);
  });

  it('backslash escapes inside a class', () => {
    check([
      ['[\\]]', ']', true],
      ['[\\]]', '\\', false],
      ['[\\^a]', '^', true],
      ['[\\-]', '-', true],
      ['[\\\\]', '\\', true],
      ['[a\\-z]', 'b', false],
      ['[a\\-z]', '-', true],
    ]);
  });

  it('an unclosed class ends with the pattern', () => {
    check([
      ['[abc', 'a', true],
      ['[abc', 'c', true],
      ['[abc', 'd', false],
      ['[abc', 'ab', false],
      ['x[', 'x[', false],
      ['[', '[', false],
      ['[', '', false],
      ['[^', 'q', true],
      ['[^', '', false],
      ['[^a', 'b', true],
      ['[^a', 'a', false],
      ['[\\', '\\', true],
    ]);
  });

  it('range bounds compare as signed bytes, as on x86-64', () => {
    // signed: 'a'..0xff is -1..97, which holds 0xff and 'a' but not 'b'
    check([
      ['[a-\xff]', '\xff', true],
      ['[a-\xff]', 'a', true],
      ['[a-\xff]', '\x00', true],
      ['[a-\xff]', 'b', false],
      ['[\x80-\xff]', '\x90', true],
      ['[\x80-\xff]', 'a', false],
      ['[\x7f-\x80]', 'a', true],
    ]);
    const unsigned = { signedChar: false };
    expect(globMatch(b('[a-\xff]'), b('b'), unsigned)).toBe(true);
    expect(globMatch(b('[a-\xff]'), b('\x00'), unsigned)).toBe(false);
    expect(globMatch(b('[\x7f-\x80]'), b('a'), unsigned)).toBe(false);
  });
});

describe('globMatch: escapes and raw bytes', () => {
  it('backslash makes the next byte literal', () => {
    check([
      ['\\*', '*', true],
      ['\\*', 'a', false],
      ['\\?', '?', true],
      ['\\?', 'a', false],
      ['\\[a]', '[a]', true],
      ['\\[a]', 'a', false],
      ['a\\\\b', 'a\\b', true],
      ['\\a', 'a', true],
    ]);
  });

  it('a trailing backslash is a literal backslash', () => {
    check([
      ['a\\', 'a\\', true],
      ['a\\', 'a', false],
      ['\\', '\\', true],
      ['*\\', 'x\\', true],
    ]);
  });

  it('NUL, 0xff and newlines are ordinary bytes', () => {
    check([
      ['a\x00b', 'a\x00b', true],
      ['a?b', 'a\x00b', true],
      ['*\x00', 'xyz\x00', true],
      ['\xff*', '\xff\xfe', true],
      ['[\x00]', '\x00', true],
      ['*\n*', 'a\nb', true],
    ]);
  });
});

describe('globMatch: abusive patterns', () => {
  it('*a*a*a...*b against a long run of a is fast', () => {
    const pattern = b(`${'*a'.repeat(30)}*b`);
    const subject = b('a'.repeat(5_000));
    const t0 = performance.now();
    expect(globMatch(pattern, subject)).toBe(false);
    expect(globMatch(pattern, Buffer.concat([subject, b('b')]))).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it('a huge pattern does not overflow the stack', () => {
    expect(globMatch(b(`${'?'.repeat(200_000)}*`), b('x'.repeat(200_000)))).toBe(true);
    // 200 000 nested * are over Redis's nesting limit: no match, and no recursion either
    expect(globMatch(b('?*'.repeat(200_000)), b('x'.repeat(200_000)))).toBe(false);
    expect(globMatch(b('[a'.repeat(100_000)), b('a'))).toBe(true);
  });

  it('more than 1000 nested * is no match, as in Redis (CVE-2024-31228)', () => {
    expect(NESTING_LIMIT).toBe(1000);
    const subject = b('a'.repeat(1_100));
    expect(globMatch(b('*a'.repeat(1000)), subject)).toBe(true);
    expect(globMatch(b('*a'.repeat(1001)), subject)).toBe(false);
    // a final * is never nested: it matches at once
    expect(globMatch(b(`${'*a'.repeat(1000)}*`), subject)).toBe(true);
    // consecutive stars nest once
    expect(globMatch(b('**a'.repeat(1000)), subject)).toBe(true);
  });
});
