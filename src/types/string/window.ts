import type { Command, Reply } from '../../servers/resp.js';
import type { WindowOps } from '../window-ops.js';

/** A string's windows are its chunks (GETRANGE), of fixed bytes: appended one after another. */
export const stringWindow: WindowOps = {
  length: (key) => ['STRLEN', key],
  walk(key, opts) {
    const step = Math.max(1, opts.stringChunk ?? opts.windowBytes);
    let at = 0;
    return {
      next(): Command | null {
        if (!(at < opts.length)) return null;
        const command: Command = ['GETRANGE', key, at, Math.min(opts.length, at + step) - 1];
        at += step;
        return command;
      },
      take: (chunk: Reply) => (Buffer.isBuffer(chunk) && chunk.length > 0 ? [chunk] : null),
    };
  },
  measure: ([chunk]) => ({ bytes: chunk?.length ?? 0, elements: 1 }),
  write: (into, [chunk]) => [['APPEND', into, chunk!]],
  // SET replaces the string alone; its windows are appended to an empty one.
  startShared: (key) => [['SET', key, '']],
};
