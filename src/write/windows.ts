import { BrokenCursorError, CursorGuard } from '../scan/cursor-guard.js';
import type { Command, Reply } from '../servers/resp.js';
import type { NativeType } from '../types/strategy.js';
import { scoreFirst } from '../types/zset/codec.js';

/**
 * One command to the server that holds the value, and its reply. An error reply may be thrown or
 * returned; a reply of another shape than the command gives (WRONGTYPE: the key changed meanwhile)
 * ends the windows.
 */
export type Ask = (command: Command) => Promise<Reply>;

export const MIN_WINDOW = 16;
export const MAX_WINDOW = 10_000;

export interface WindowOptions {
  /** The bytes a window aims at. */
  windowBytes: number;
  /** A string's chunk, where it must be a fixed cut (verify compares chunks); default windowBytes. */
  stringChunk?: number;
  /** Lists: windows from the tail to the head (a prepend merge). */
  fromTail?: boolean;
  /** Lists: the first index to read. */
  from?: number;
  /** The list's length or the string's, where the caller knows it (else LLEN or STRLEN is asked). */
  length?: number;
  /** The server that holds the value, as a user may read it: named where its cursor is broken. */
  server?: string;
}

/**
 * A big value read window by window (SPEC §2.3), so that kvmerge holds one window whatever the value's
 * size: HSCAN/SSCAN/ZSCAN (a zset's window as score, member, …, the order ZADD takes), LRANGE by index,
 * XRANGE (entries `[id, fields]`), GETRANGE (a string's chunks). The element count per window follows
 * the sizes seen so far, so that huge elements make short windows. A member that a SCAN returns twice
 * comes twice (writing it again is harmless). Shared by the big-key copy (bigkey.ts), the journal's
 * prior states (journal/big-prior.ts) and verify (verify/windowed.ts).
 */
export async function* valueWindows(
  ask: Ask,
  key: Buffer,
  type: NativeType,
  opts: WindowOptions,
): AsyncGenerator<Buffer[]> {
  let count = MIN_WINDOW * 4;
  const adapt = (bytes: number, elements: number): void => {
    const avg = Math.max(1, bytes / Math.max(1, elements));
    count = Math.min(MAX_WINDOW, Math.max(MIN_WINDOW, Math.floor(opts.windowBytes / avg)));
  };
  switch (type) {
    case 'hash':
    case 'set':
    case 'zset': {
      const command = type === 'hash' ? 'HSCAN' : type === 'set' ? 'SSCAN' : 'ZSCAN';
      let cursor: Buffer | string = '0';
      // A value's cursor can cycle like a database's (Pika 3.x): no work-around for one value, so stop.
      const guard = new CursorGuard();
      do {
        const reply = await ask([command, key, cursor, 'COUNT', count]);
        if (!Array.isArray(reply)) return;
        const [next, flat] = reply as [Buffer, Buffer[]];
        cursor = next;
        const broken = next.toString() === '0' ? undefined : guard.page(next.toString('latin1'));
        if (broken)
          throw new BrokenCursorError(opts.server ?? 'the server', `${command} of a big key`, broken, '');
        if (flat.length > 0) {
          adapt(bytesOf(flat), type === 'set' ? flat.length : flat.length / 2);
          yield type === 'zset' ? scoreFirst(flat) : flat;
        }
      } while (cursor.toString() !== '0');
      return;
    }
    case 'list': {
      const length = opts.length ?? Number(await ask(['LLEN', key]));
      for (let done = opts.from ?? 0; done < length; ) {
        const n = Math.min(count, length - done);
        const [start, stop] = opts.fromTail ? [length - done - n, length - done - 1] : [done, done + n - 1];
        const items = await ask(['LRANGE', key, start, stop]);
        if (!Array.isArray(items) || items.length === 0) return;
        adapt(bytesOf(items as Buffer[]), items.length);
        done += items.length;
        yield items as Buffer[];
      }
      return;
    }
    case 'stream': {
      let start: Buffer | string = '-';
      for (;;) {
        const entries = await ask(['XRANGE', key, start, '+', 'COUNT', count]);
        if (!Array.isArray(entries) || entries.length === 0) return;
        const typed = entries as [Buffer, Buffer[]][];
        adapt(
          typed.reduce((n, [id, fields]) => n + id.length + bytesOf(fields), 0),
          typed.length,
        );
        start = Buffer.concat([Buffer.from('('), typed[typed.length - 1]![0]]);
        yield typed as unknown as Buffer[];
      }
    }
    case 'string': {
      const length = opts.length ?? Number(await ask(['STRLEN', key]));
      const step = Math.max(1, opts.stringChunk ?? opts.windowBytes);
      for (let at = 0; at < length; at += step) {
        const chunk = await ask(['GETRANGE', key, at, Math.min(length, at + step) - 1]);
        if (!Buffer.isBuffer(chunk) || chunk.length === 0) return;
        yield [chunk];
      }
    }
  }
}

const bytesOf = (items: Buffer[]): number => items.reduce((n, b) => n + b.length + 16, 0);
