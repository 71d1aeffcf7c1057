import { BrokenCursorError, CursorGuard } from '../servers/cursor-guard.js';
import type { Command, Reply } from '../servers/resp.js';
import type { WalkOptions, WindowWalk } from './window-ops.js';

/** Elements a window holds at least and at most, whatever their size. */
export const MIN_WINDOW = 16;
export const MAX_WINDOW = 10_000;

/** Bytes a window's elements are counted as: their own, and what a reply spends on each. */
export const bytesOf = (items: Buffer[]): number => items.reduce((n, b) => n + b.length + 16, 0);

/**
 * The windows of a hash, set or zset: the pages of its HSCAN/SSCAN/ZSCAN, as `shape` lays them out.
 * A member that a SCAN returns twice comes twice (writing it again is harmless).
 */
export function scanWalk(
  command: string,
  key: Buffer,
  opts: WalkOptions,
  shape: (flat: Buffer[]) => Buffer[] = (flat) => flat,
): WindowWalk {
  let cursor: Buffer | string = '0';
  let started = false;
  // A value's cursor can cycle like a database's (Pika 3.x): no work-around for one value, so stop.
  const guard = new CursorGuard();
  return {
    next(count: number): Command | null {
      if (started && cursor.toString() === '0') return null;
      started = true;
      return [command, key, cursor, 'COUNT', count];
    },
    take(reply: Reply): Buffer[] | null {
      if (!Array.isArray(reply)) return null;
      const [next, flat] = reply as [Buffer, Buffer[]];
      cursor = next;
      const broken = next.toString() === '0' ? undefined : guard.page(next.toString('latin1'));
      if (broken)
        throw new BrokenCursorError(opts.server ?? 'the server', `${command} of a big key`, broken, '');
      return shape(flat);
    },
  };
}
