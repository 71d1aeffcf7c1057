import { integerText } from '../../rdb/integer-text.js';
import type { Command } from '../../servers/resp.js';
import { ARGS_PER_COMMAND, chunked, type Dialect, type NativeCodec, REDIS_DIALECT } from '../codec.js';
import type { MergeOptions } from '../strategy.js';

/**
 * ZSCAN's COUNT for a whole read where ZRANGE hides members (Pika leaves out -inf scores): large
 * enough that one call returns every member of a key below the big-key threshold (Pika answers
 * ZSCAN … COUNT n with up to n members and cursor 0 when it has reached the end).
 */
const WHOLE_SCAN = 1 << 24;

/** Redis prints scores with %.17g and ±inf as "inf"/"-inf", which Number() does not read. */
export function parseScore(score: Buffer | string): number {
  const text = score.toString().toLowerCase();
  if (text === 'inf' || text === '+inf') return Number.POSITIVE_INFINITY;
  if (text === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** Member → score of a flat score, member, … array, keyed by the member's bytes. */
function scoresOf(pairs: Buffer[]): Map<string, number> {
  const scores = new Map<string, number>();
  for (let i = 0; i < pairs.length; i += 2)
    scores.set(pairs[i + 1]!.toString('latin1'), parseScore(pairs[i]!));
  return scores;
}

/** The flat score, member array from a member, score one (ZRANGE WITHSCORES and ZSCAN give member first). */
export function scoreFirst(flat: Buffer[]): Buffer[] {
  const out: Buffer[] = new Array(flat.length);
  for (let i = 0; i < flat.length; i += 2) {
    out[i] = flat[i + 1]!;
    out[i + 1] = flat[i]!;
  }
  return out;
}

/**
 * The pairs whose ZADD makes the target hold what `rule` wants, given the target's present scores:
 * for a server whose ZADD has no NX/GT/LT (Pika), the comparison they would make is made here.
 */
export function pairsToAdd(pairs: Buffer[], rule: MergeOptions['zsetScore'], current: Buffer[]): Buffer[] {
  const held = scoresOf(current);
  const out: Buffer[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const have = held.get(pairs[i + 1]!.toString('latin1'));
    const score = parseScore(pairs[i]!);
    const wanted =
      have === undefined ||
      rule === 'source' ||
      (rule === 'max' && score > have) ||
      (rule === 'min' && score < have);
    if (wanted) out.push(pairs[i]!, pairs[i + 1]!);
  }
  return out;
}

const FLAG: Partial<Record<MergeOptions['zsetScore'], string>> = { target: 'NX', max: 'GT', min: 'LT' };

/**
 * A sorted set as ZADD takes it: score, member, score, member, … Scores travel as the strings
 * Redis printed (%.17g), which parse back to the same double: no precision is lost in transit.
 */
export const zsetCodec: NativeCodec<Buffer[]> = {
  type: 'zset',
  count: (key) => ['ZCARD', key],
  read: (key, dialect = REDIS_DIALECT) =>
    dialect.zrangeComplete
      ? [['ZRANGE', key, 0, -1, 'WITHSCORES']]
      : [['ZSCAN', key, 0, 'COUNT', WHOLE_SCAN]],
  decode: ([reply], dialect = REDIS_DIALECT) => {
    let flat = reply;
    if (!dialect.zrangeComplete) {
      if (!Array.isArray(reply) || String(reply[0]) !== '0') return null;
      flat = reply[1];
    }
    if (!Array.isArray(flat) || flat.length === 0) return null;
    return scoreFirst(flat as Buffer[]);
  },
  write: (key, pairs) => chunked('ZADD', key, pairs, ARGS_PER_COMMAND * 2),
  needsCurrent: (opts, dialect: Dialect) => !dialect.zaddFlags && FLAG[opts.zsetScore] !== undefined,
  merge(key, pairs, opts, current, dialect = REDIS_DIALECT) {
    if (opts.zsetScore === 'sum') {
      // ZINCRBY adds to an existing score and creates a missing member with the increment.
      const out: Command[] = [];
      for (let i = 0; i < pairs.length; i += 2) out.push(['ZINCRBY', key, pairs[i]!, pairs[i + 1]!]);
      return out;
    }
    const flag = FLAG[opts.zsetScore];
    if (!flag) return chunked('ZADD', key, pairs, ARGS_PER_COMMAND * 2);
    // NX/GT/LT update an existing member only in that direction and still add new members.
    if (dialect.zaddFlags) return chunked('ZADD', key, pairs, ARGS_PER_COMMAND * 2, [flag]);
    return chunked('ZADD', key, pairsToAdd(pairs, opts.zsetScore, current ?? []), ARGS_PER_COMMAND * 2);
  },
  clear: (key) => [['ZREMRANGEBYRANK', key, 0, -1]],
  size: (pairs) => pairs.length / 2,
  // Member union; a member on both sides gets the score `zsetScore` gives (sum: ZINCRBY's addition).
  mergeValues(current, incoming, opts) {
    const scores = new Map<string, [member: Buffer, score: Buffer]>();
    for (let i = 0; i < current.length; i += 2)
      scores.set(current[i + 1]!.toString('latin1'), [current[i + 1]!, current[i]!]);
    for (let i = 0; i < incoming.length; i += 2) {
      const member = incoming[i + 1]!;
      const id = member.toString('latin1');
      const held = scores.get(id);
      if (held === undefined) scores.set(id, [member, incoming[i]!]);
      else held[1] = mergedScore(held[1], incoming[i]!, opts.zsetScore);
    }
    const out: Buffer[] = [];
    for (const [member, score] of scores.values()) out.push(score, member);
    return out;
  },
};

/** The score a member present on both sides ends with (SPEC §1.4 `merge.zsetScore`). */
function mergedScore(target: Buffer, source: Buffer, rule: MergeOptions['zsetScore']): Buffer {
  const t = parseScore(target);
  const s = parseScore(source);
  switch (rule) {
    case 'source':
      return source;
    case 'target':
      return target;
    case 'max':
      return s > t ? source : target;
    case 'min':
      return s < t ? source : target;
    case 'sum':
      return formatScore(t + s);
  }
}

/** A score as text that parseScore() reads back to the same double (Redis's own inf spelling). */
export function formatScore(score: number): Buffer {
  if (score === Number.POSITIVE_INFINITY) return Buffer.from('inf');
  if (score === Number.NEGATIVE_INFINITY) return Buffer.from('-inf');
  // Most scores are integers (counters, timestamps): their digits without a string in between.
  if (Number.isSafeInteger(score)) return integerText(score);
  return Buffer.from(String(score));
}
