import type { Command } from '../../servers/resp.js';
import { id, PRESENT, type WindowedVerify } from '../compare/held.js';
import { compareKeyed, firstSeenPairs, type Keyed, splitPairs } from '../compare/keyed.js';
import { flatPairs, items, showBytes } from '../compare/show.js';
import { formatScore, parseScore, zsetCodec } from './codec.js';

/** A zset as verify compares it: member → score, in the codec's flat layout (score, member, …). */

function scoreMap(flat: Buffer[]): Map<string, number> {
  const { fields, values } = splitPairs(flat, 1);
  return new Map(fields.map((m, i) => [id(m), parseScore(values[i]!)]));
}

const keyed: Keyed = {
  type: 'zset',
  elements: 'members',
  split: (window) => splitPairs(window, 1),
  sameField: (a, b) => parseScore(a) === parseScore(b),
  // The codec's own merge step, on a one-member value.
  mergeField: (current, incoming, opts) =>
    zsetCodec.mergeValues([current, PRESENT], [incoming, PRESENT], opts)[0]!,
  showField: (member, score) =>
    score === null ? `no member ${showBytes(member)}` : `${showBytes(member)}: ${score.toString()}`,
  /** `source`: the last score; `max`: at least the largest; `min`: at most the smallest; else any. */
  allows(have, given, opts) {
    const last = given[given.length - 1]!;
    const rule = opts.zsetScore !== 'source' ? `${opts.zsetScore} of ` : '';
    const scores = given.map(parseScore);
    const score = parseScore(have);
    if (opts.zsetScore === 'source') return { ok: score === parseScore(last), want: last, rule };
    if (opts.zsetScore === 'max') {
      const want = given[scores.indexOf(Math.max(...scores))]!;
      return { ok: score >= parseScore(want), want, rule };
    }
    if (opts.zsetScore === 'min') {
      const want = given[scores.indexOf(Math.min(...scores))]!;
      return { ok: score <= parseScore(want), want, rule };
    }
    return { ok: true, want: last, rule };
  },
};

export const zsetVerify: WindowedVerify = {
  same(a, b) {
    const x = scoreMap(a as Buffer[]);
    const y = scoreMap(b as Buffer[]);
    return x.size === y.size && [...x].every(([k, v]) => y.has(k) && y.get(k) === v);
  },
  /** Every member merged is there, with a score `zsetScore` allows (Keyed.allows, on whole values). */
  contains(found, merged, opts) {
    const held = scoreMap(found as Buffer[]);
    const last = new Map<string, number>();
    const max = new Map<string, number>();
    const min = new Map<string, number>();
    for (const v of merged) {
      for (const [m, s] of scoreMap(v as Buffer[])) {
        last.set(m, s);
        max.set(m, Math.max(s, max.get(m) ?? s));
        min.set(m, Math.min(s, min.get(m) ?? s));
      }
    }
    return [...last.keys()].every((m) => {
      const score = held.get(m);
      if (score === undefined) return false;
      if (opts.zsetScore === 'source') return score === last.get(m);
      if (opts.zsetScore === 'max') return score >= max.get(m)!;
      if (opts.zsetScore === 'min') return score <= min.get(m)!;
      return true;
    });
  },
  show: (value) =>
    `zset {${items(flatPairs(value as Buffer[], 1, (s, m) => `${showBytes(m)}: ${s.toString()}`))}}`,
  keepsTtl: () => true,
  /** The journal keeps [member, score][] (a score as a number or its text). */
  fromImage: (image) =>
    Array.isArray(image) && Array.isArray(image[0])
      ? (image as [Buffer, number | Buffer][]).flatMap(([m, s]) => [
          typeof s === 'number' ? formatScore(s) : s,
          m,
        ])
      : image,
  elements: keyed.elements,
  size: (value) => zsetCodec.size(value as Buffer[]),
  windowsOf: (value) => [value as Buffer[]],
  windowSize: (window) => window.length / 2,
  firstSeen: (window, seen) => firstSeenPairs(window, seen, 1),
  split: keyed.split,
  lookup: {
    // One command per member: ZMSCORE is Redis 6.2+ and not on Pika.
    commands: (key, fields) => fields.map((f): Command => ['ZSCORE', key, f]),
    answers: (replies) => replies.map((r) => (Buffer.isBuffer(r) ? r : null)),
  },
  compare: (found, outcome, opts) => compareKeyed(keyed, found, outcome, opts),
};
