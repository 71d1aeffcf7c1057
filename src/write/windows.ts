import type { NativeType } from '../types/strategy.js';
import type { Ask } from '../types/window-ops.js';
import { MAX_WINDOW, MIN_WINDOW } from '../types/window-parts.js';
import { WINDOWS } from '../types/windows.js';

export type { Ask } from '../types/window-ops.js';
export { MAX_WINDOW, MIN_WINDOW } from '../types/window-parts.js';

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
  const ops = WINDOWS[type];
  const length = ops.length ? (opts.length ?? Number(await ask(ops.length(key)))) : 0;
  const walk = ops.walk(key, { ...opts, length });
  let count = MIN_WINDOW * 4;
  for (let command = walk.next(count); command; command = walk.next(count)) {
    const window = walk.take(await ask(command));
    if (window === null) return;
    if (window.length === 0) continue;
    const { bytes, elements } = ops.measure(window);
    const avg = Math.max(1, bytes / Math.max(1, elements));
    count = Math.min(MAX_WINDOW, Math.max(MIN_WINDOW, Math.floor(opts.windowBytes / avg)));
    yield window;
  }
}
