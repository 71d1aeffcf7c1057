import type { Command } from '../commands.js';
import { ARGS_PER_COMMAND, chunked, type NativeCodec } from './codec.js';

/**
 * A sorted set as ZADD takes it: score, member, score, member, … Scores travel as the strings
 * Redis printed (%.17g), which parse back to the same double: no precision is lost in transit.
 */
export const zsetCodec: NativeCodec<Buffer[]> = {
  type: 'zset',
  read: (key) => [['ZRANGE', key, 0, -1, 'WITHSCORES']],
  decode: ([flat]) => {
    if (!Array.isArray(flat) || flat.length === 0) return null;
    const pairs = flat as Buffer[];
    const out: Buffer[] = new Array(pairs.length);
    for (let i = 0; i < pairs.length; i += 2) {
      out[i] = pairs[i + 1]!;
      out[i + 1] = pairs[i]!;
    }
    return out;
  },
  write: (key, pairs) => chunked('ZADD', key, pairs, ARGS_PER_COMMAND * 2),
  merge(key, pairs, opts) {
    switch (opts.zsetScore) {
      case 'source':
        return chunked('ZADD', key, pairs, ARGS_PER_COMMAND * 2);
      case 'target':
        return chunked('ZADD', key, pairs, ARGS_PER_COMMAND * 2, ['NX']);
      // GT/LT update an existing member only in that direction and still add new members.
      case 'max':
        return chunked('ZADD', key, pairs, ARGS_PER_COMMAND * 2, ['GT']);
      case 'min':
        return chunked('ZADD', key, pairs, ARGS_PER_COMMAND * 2, ['LT']);
      case 'sum': {
        // ZINCRBY adds to an existing score and creates a missing member with the increment.
        const out: Command[] = [];
        for (let i = 0; i < pairs.length; i += 2) out.push(['ZINCRBY', key, pairs[i]!, pairs[i + 1]!]);
        return out;
      }
    }
  },
  size: (pairs) => pairs.length / 2,
};
