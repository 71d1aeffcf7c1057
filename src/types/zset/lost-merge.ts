import type { Command, Reply } from '../../servers/resp.js';
import type { Applied, LostMergeCheck } from '../lost-merge.js';

/** A zset sum's increments: ZINCRBY key increment member. */
const increments = (commands: readonly Command[]): Command[] => commands.filter((c) => c[0] === 'ZINCRBY');

const scoresOf = (sums: readonly Command[]): Command[] =>
  sums.map(([, key, , member]): Command => ['ZSCORE', key!, member!]);

/**
 * A zset `sum` (ZINCRBY): the members' scores are read just before the merge is sent and again after
 * the drop: all moved by their increments means applied, none moved means not, anything else cannot
 * be told (never added twice). The other score rules are idempotent.
 */
export const zsetLostMerge: LostMergeCheck = {
  readBefore: (commands) => scoresOf(increments(commands)),
  reads(commands, { before }) {
    const sums = increments(commands);
    if (sums.length === 0) return null;
    return before ? scoresOf(sums) : [];
  },
  judge: (commands, { before }, after) => (before ? summed(increments(commands), before, after) : 'unknown'),
  unknownNote: ' (a zset sum cannot be re-sent)',
};

/**
 * Whether a zset sum was applied, from its members' scores before it and now: every score moved by its
 * increment, or none moved (ZINCRBY on a missing member starts from 0). Doubles are added as Redis adds
 * them; anything else (a score that is not a number, some moved and some not) cannot be told.
 */
function summed(sums: Command[], before: readonly Reply[], after: readonly Reply[]): Applied {
  const score = (r: Reply | undefined): number | undefined =>
    r === null ? undefined : Buffer.isBuffer(r) ? Number(r.toString()) : Number.NaN;
  let moved = 0;
  let still = 0;
  sums.forEach((c, i) => {
    const was = score(before[i]);
    const now = score(after[i]);
    // A member whose score the increment leaves as it was counts both ways.
    if (now !== undefined && now === (was ?? 0) + Number(String(c[2]))) moved++;
    if (now === was) still++;
  });
  if (moved === sums.length) return 'applied';
  return still === sums.length ? 'not applied' : 'unknown';
}
