import type { Command } from '../../servers/resp.js';
import { ARGS_PER_COMMAND, chunked, type NativeCodec } from '../codec.js';

export const listCodec: NativeCodec<Buffer[]> = {
  type: 'list',
  count: (key) => ['LLEN', key],
  read: (key) => [['LRANGE', key, 0, -1]],
  decode: ([items]) => (Array.isArray(items) && items.length > 0 ? (items as Buffer[]) : null),
  write: (key, items) => chunked('RPUSH', key, items, ARGS_PER_COMMAND),
  needsCurrent: (opts) => opts.list === 'union',
  merge(key, items, opts, current) {
    switch (opts.list) {
      case 'append':
        return chunked('RPUSH', key, items, ARGS_PER_COMMAND);
      case 'prepend': {
        // LPUSH puts each argument at the head in turn, so the reversed list lands in source order.
        const out: Command[] = [];
        for (let end = items.length; end > 0; end -= ARGS_PER_COMMAND) {
          const start = Math.max(0, end - ARGS_PER_COMMAND);
          out.push(['LPUSH', key, ...items.slice(start, end).reverse()]);
        }
        return out;
      }
      case 'union':
        // [a] ∪ [b, a, b] = [a, b]: each source element the list does not hold at that moment.
        return chunked('RPUSH', key, unionAdditions(current ?? [], items), ARGS_PER_COMMAND);
    }
  },
  // LTRIM to an empty range removes the list, and only the list.
  clear: (key) => [['LTRIM', key, 1, 0]],
  size: (items) => items.length,
  mergeValues(current, incoming, opts) {
    switch (opts.list) {
      case 'append':
        return [...current, ...incoming];
      case 'prepend':
        return [...incoming, ...current];
      case 'union':
        return [...current, ...unionAdditions(current, incoming)];
    }
  },
};

/** The elements of `incoming` that a list union adds to `current`: [a] ∪ [b, a, b] adds [b]. */
function unionAdditions(current: readonly Buffer[], incoming: readonly Buffer[]): Buffer[] {
  const held = new Set(current.map((b) => b.toString('latin1')));
  const added: Buffer[] = [];
  for (const item of incoming) {
    const id = item.toString('latin1');
    if (!held.has(id)) {
      held.add(id);
      added.push(item);
    }
  }
  return added;
}
