import { SeenKeys } from '../../common/seen-keys.js';
import type { Command, Reply } from '../../servers/resp.js';
import type { Transport } from '../../servers/transport.js';
import type { WindowOps } from '../window-ops.js';
import { bytesOf, MAX_WINDOW, MIN_WINDOW } from '../window-parts.js';
import { listCodec } from './codec.js';

/** A list's windows are LRANGEs by index, head to tail (or tail to head, for a prepend merge). */
export const listWindow: WindowOps = {
  length: (key) => ['LLEN', key],
  walk(key, opts) {
    const length = opts.length;
    let done = opts.from ?? 0;
    return {
      next(count: number): Command | null {
        if (!(done < length)) return null;
        const n = Math.min(count, length - done);
        const [start, stop] = opts.fromTail ? [length - done - n, length - done - 1] : [done, done + n - 1];
        return ['LRANGE', key, start, stop];
      },
      take(items: Reply): Buffer[] | null {
        if (!Array.isArray(items) || items.length === 0) return null;
        done += items.length;
        return items as Buffer[];
      },
    };
  },
  measure: (items) => ({ bytes: bytesOf(items), elements: items.length }),
  write: (into, items, dialect) => listCodec.write(into, items, dialect),
  async merge({ target, key, opts, dialect, windowBytes }) {
    if (opts.list !== 'union') {
      return {
        fromTail: opts.list === 'prepend',
        commands: async (items) => listCodec.merge(key, items, opts, undefined, dialect),
      };
    }
    // List union over windows: what the target list holds, and what earlier windows added.
    const held = await fingerprintList(target, key, windowBytes);
    return {
      fromTail: false,
      commands: async (items) => {
        const added = items.filter((item) => held.add(item));
        return added.length > 0 ? listCodec.write(key, added, dialect) : [];
      },
    };
  },
  pushes: (commands) =>
    commands.reduce((n, c) => n + (c[0] === 'RPUSH' || c[0] === 'LPUSH' ? c.length - 2 : 0), 0),
};

/** Fingerprints of the target list's elements, read in windows (for list union). */
async function fingerprintList(target: Transport, key: Buffer, windowBytes: number): Promise<SeenKeys> {
  const held = new SeenKeys();
  const length = Number(await ask(target, ['LLEN', key]));
  const step = Math.max(MIN_WINDOW, Math.min(MAX_WINDOW, Math.floor(windowBytes / 64)));
  for (let start = 0; start < length; start += step) {
    const items = await ask(target, ['LRANGE', key, start, start + step - 1]);
    for (const item of Array.isArray(items) ? (items as Buffer[]) : []) held.add(item);
  }
  return held;
}

async function ask(target: Transport, command: Command): Promise<Reply> {
  const [reply = null] = await target.send([command]);
  if (reply instanceof Error) throw reply;
  return reply;
}
