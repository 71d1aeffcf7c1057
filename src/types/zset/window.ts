import type { Command } from '../../servers/resp.js';
import type { Transport } from '../../servers/transport.js';
import type { WindowOps } from '../window-ops.js';
import { bytesOf, scanWalk } from '../window-parts.js';
import { scoreFirst, zsetCodec } from './codec.js';

/** A zset's windows are ZSCAN pages laid out as ZADD takes them: score, member, … */
export const zsetWindow: WindowOps = {
  walk: (key, opts) => scanWalk('ZSCAN', key, opts, scoreFirst),
  measure: (pairs) => ({ bytes: bytesOf(pairs), elements: pairs.length / 2 }),
  write: (into, pairs, dialect) => zsetCodec.write(into, pairs, dialect),
  async merge({ target, key, opts, dialect }) {
    const needsScores = zsetCodec.needsCurrent?.(opts, dialect) ?? false;
    return {
      fromTail: false,
      commands: async (pairs) =>
        zsetCodec.merge(
          key,
          pairs,
          opts,
          needsScores ? await scoresOnTarget(target, key, pairs) : undefined,
          dialect,
        ),
    };
  },
  // ZUNIONSTORE replaces the key with the sum; the aside holds the source's members once each.
  mergeAside: {
    wanted: (opts) => opts.zsetScore === 'sum',
    fold: (key, aside) => ['ZUNIONSTORE', key, 2, key, aside, 'AGGREGATE', 'SUM'],
  },
};

/** The target's scores of a window's members (score, member, …), for a ZADD without NX/GT/LT (Pika). */
async function scoresOnTarget(target: Transport, key: Buffer, pairs: Buffer[]): Promise<Buffer[]> {
  const commands: Command[] = [];
  for (let i = 1; i < pairs.length; i += 2) commands.push(['ZSCORE', key, pairs[i]!]);
  const replies = await target.send(commands);
  const current: Buffer[] = [];
  replies.forEach((score, n) => {
    if (score instanceof Error) throw score;
    if (Buffer.isBuffer(score)) current.push(score, pairs[n * 2 + 1]!);
  });
  return current;
}
