import type { Command, Reply } from '../../servers/resp.js';
import type { WindowOps } from '../window-ops.js';

/** A string's windows are its chunks (GETRANGE), of fixed bytes: appended one after another. */
export const stringWindow: WindowOps = {
  length: (key) => ['STRLEN', key],
  walk(key, opts) {
    const step = Math.max(1, opts.stringChunk ?? opts.windowBytes);
    let at = 0;
    // An empty string is one empty chunk, not none: a value with no window would be taken for gone.
    const empty = opts.length === 0;
    let askedEmpty = false;
    return {
      next(): Command | null {
        if (empty && !askedEmpty) {
          askedEmpty = true;
          return ['GETRANGE', key, 0, 0];
        }
        if (!(at < opts.length)) return null;
        const command: Command = ['GETRANGE', key, at, Math.min(opts.length, at + step) - 1];
        at += step;
        return command;
      },
      take(chunk: Reply) {
        if (!Buffer.isBuffer(chunk)) return null;
        if (empty) return [Buffer.alloc(0)];
        return chunk.length > 0 ? [chunk] : null;
      },
    };
  },
  measure: ([chunk]) => ({ bytes: chunk?.length ?? 0, elements: 1 }),
  write: (into, [chunk]) => [['APPEND', into, chunk!]],
  // SET replaces the string alone; its windows are appended to an empty one.
  startShared: (key) => [['SET', key, '']],
};
