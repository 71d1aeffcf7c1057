import type { Command } from '../../servers/resp.js';
import type { LostMergeCheck } from '../lost-merge.js';

/** Elements a list merge pushes (RPUSH, LPUSH key element …). */
const pushed = (commands: readonly Command[]): number =>
  commands.reduce((sum, c) => sum + (c[0] === 'RPUSH' || c[0] === 'LPUSH' ? c.length - 2 : 0), 0);

/**
 * A list append, prepend or union: its length before the step is known, so LLEN tells: before +
 * pushed means applied, before means not, anything else cannot be told.
 */
export const listLostMerge: LostMergeCheck = {
  lengthBefore: {
    command: (key) => ['LLEN', key],
    of: (current) => (current as Buffer[] | undefined)?.length ?? 0,
  },
  readBefore: () => [],
  reads: (_commands, { key, targetLength }) => (targetLength === undefined ? [] : [['LLEN', key]]),
  judge(commands, { targetLength: before }, [reply]) {
    if (before !== undefined && reply === before + pushed(commands)) return 'applied';
    if (before !== undefined && reply === before) return 'not applied';
    return 'unknown';
  },
  unknownNote: '',
};
