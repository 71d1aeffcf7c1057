/**
 * Redis glob matching on raw bytes, so that kvmerge can tell whether a source's `match` glob would
 * select a key without asking the server.
 *
 * The contract is "what `SCAN ... MATCH pattern` and `KEYS pattern` return", i.e. Redis's
 * `stringmatchlen()` (src/util.c) with `nocase = 0`, plus the shortcut both commands take for the
 * pattern `*` (it selects every key, the empty key included, without calling the matcher).
 * This is a fresh implementation of that behaviour, not a port; the quirks it reproduces are:
 *
 * - `*` matches any run of bytes; consecutive `*` are one. A non-empty subject is required for the
 *   matching loop to run at all, so `**` or `a*` never match the empty key (only `*` does, through
 *   the shortcut), while trailing `*` after the last subject byte are ignored (`a*` matches `a`).
 * - `?` matches exactly one byte.
 * - `[...]` matches one byte: `[^...]` negates; `\x` inside a class is the literal `x`;
 *   `a-z` is an inclusive range and a reversed range `z-a` is the same range. A range is read
 *   whenever two more bytes follow the first, so in `[a-]` the `]` is the range's upper bound and
 *   the class runs on to the end of the pattern. Range bounds compare as C `char`, which is signed
 *   on x86-64 (so `[a-\xff]` is the range -1..97 and does not contain `b`); pass
 *   `{ signedChar: false }` to mirror a server built where `char` is unsigned (e.g. arm64).
 * - A `[` whose class is never closed by `]` is a class that ends with the pattern: `[ab` matches
 *   one `a` or `b`; a lone trailing `[` matches nothing, a trailing `[^` matches any byte.
 * - `\x` outside a class is the literal `x`; a trailing `\` is a literal backslash.
 * - Matching is case-sensitive and byte-wise (no UTF-8 decoding).
 * - Abusive patterns: Redis ≥ 7.0.9 stops retrying earlier `*` once a later `*` has failed
 *   everywhere (so there is no exponential blow-up), and current releases (7.2.6+, 7.4.1+, and
 *   Debian's patched 7.0.15) give up with "no match" when a subject needs more than 1000 nested
 *   `*` (CVE-2024-31228). Both are reproduced: see `NESTING_LIMIT`.
 *
 * The algorithm is iterative and keeps only the innermost `*` as a backtrack point, which gives
 * exactly Redis's results (once a deeper `*` has been reached, Redis never retries a shallower
 * one) in O(pattern × subject) time and O(1) extra memory, with no recursion to overflow.
 */

const STAR = 0x2a; // *
const QUESTION = 0x3f; // ?
const LBRACKET = 0x5b; // [
const RBRACKET = 0x5d; // ]
const BACKSLASH = 0x5c; // \
const CARET = 0x5e; // ^
const DASH = 0x2d; // -

/** More nested `*` than this make Redis answer "no match" (util.c, stringmatchlen_impl). */
export const NESTING_LIMIT = 1000;

export interface GlobOptions {
  /**
   * Compare range bounds as signed bytes, as a Redis built where C `char` is signed (x86-64, the
   * default) does. Only changes the result of `[x-y]` ranges with a bound or subject byte ≥ 0x80.
   */
  signedChar?: boolean;
}

/** True when `SCAN MATCH pattern` / `KEYS pattern` would return the key `subject`. */
export function globMatch(pattern: Buffer, subject: Buffer, options?: GlobOptions): boolean {
  if (pattern.length === 1 && pattern[0] === STAR) return true;
  return stringMatchLen(pattern, subject, options);
}

/**
 * Redis's `stringmatchlen(pattern, subject, nocase=0)` itself, without the `*` shortcut of KEYS
 * and SCAN (so `*` does not match the empty subject here).
 */
export function stringMatchLen(pattern: Buffer, subject: Buffer, options?: GlobOptions): boolean {
  const signed = options?.signedChar ?? true;
  const plen = pattern.length;
  const slen = subject.length;
  let pi = 0;
  let si = 0;
  // The innermost `*` reached so far: the pattern resumes at starP, trying the subject from starS.
  let starP = -1;
  let starS = 0;
  let nesting = 0;

  for (;;) {
    let failed = false;
    if (pi < plen && si < slen) {
      const p = pattern[pi]!;
      if (p === STAR) {
        while (pi + 1 < plen && pattern[pi + 1] === STAR) pi++;
        if (pi === plen - 1) return true; // a final `*` swallows the rest
        nesting++;
        if (nesting > NESTING_LIMIT) return false;
        starP = pi + 1;
        starS = si;
        pi = starP;
        continue;
      }
      const c = subject[si]!;
      if (p === QUESTION) {
        // any byte
      } else if (p === LBRACKET) {
        pi++;
        const negate = pi < plen && pattern[pi] === CARET;
        if (negate) pi++;
        let match = false;
        for (;;) {
          if (pi < plen - 1 && pattern[pi] === BACKSLASH) {
            pi++;
            if (pattern[pi] === c) match = true;
          } else if (pi < plen && pattern[pi] === RBRACKET) {
            break;
          } else if (pi >= plen) {
            pi--; // unclosed class: stand on the last byte, the step below moves past it
            break;
          } else if (pi + 2 < plen && pattern[pi + 1] === DASH) {
            let lo = byteValue(pattern[pi]!, signed);
            let hi = byteValue(pattern[pi + 2]!, signed);
            if (lo > hi) [lo, hi] = [hi, lo];
            const v = byteValue(c, signed);
            if (v >= lo && v <= hi) match = true;
            pi += 2;
          } else if (pattern[pi] === c) {
            match = true;
          }
          pi++;
        }
        if (match === negate) failed = true;
      } else {
        if (p === BACKSLASH && pi + 1 < plen) pi++;
        if (pattern[pi] !== c) failed = true;
      }
      if (!failed) {
        pi++;
        si++;
        if (si === slen) {
          // Subject used up: only `*` may remain in the pattern.
          while (pi < plen && pattern[pi] === STAR) pi++;
          if (pi === plen) return true;
          failed = true;
        }
      }
    } else {
      // Pattern or subject used up (the other one not, or this would be a match).
      if (pi === plen && si === slen) return true;
      failed = true;
    }

    if (failed) {
      // Let the innermost `*` swallow one more byte; with no `*`, or nothing left to swallow, no
      // placement of any earlier `*` can succeed either.
      if (starP < 0) return false;
      starS++;
      if (starS >= slen) return false;
      pi = starP;
      si = starS;
    }
  }
}

function byteValue(b: number, signed: boolean): number {
  return signed && b >= 0x80 ? b - 0x100 : b;
}
