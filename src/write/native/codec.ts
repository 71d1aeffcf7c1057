import type { MergeOptions, NativeType } from '../../decide/types.js';
import type { Command } from '../commands.js';

/**
 * How one type is read from a source and written to the target with its own commands
 * (SPEC §2.1 native path). Pure: builds commands and decodes replies; the writer sends them.
 */
export interface NativeCodec<V> {
  type: NativeType;
  /** Commands that read the whole value; their replies (as Buffers) go to decode(). */
  read(key: Buffer): Command[];
  /** The value from the replies of read(), or null when the key was gone (empty reply). */
  decode(replies: unknown[]): V | null;
  /** Commands that write the value into a key that does not exist (the caller deletes first when replacing). */
  write(key: Buffer, value: V): Command[];
  /**
   * Commands that merge the value into the existing key of the same type (SPEC §1.4).
   * `current` is the target's present value, for the merges that need it (list union).
   */
  merge(key: Buffer, value: V, opts: MergeOptions, current?: V): Command[];
  /** Merges that must see the target's value first (list union) say so here. */
  needsCurrent?(opts: MergeOptions): boolean;
  /** Number of elements, for sizing. */
  size(value: V): number;
}

/** Splits a flat argument list into commands of at most `per` arguments (keeps one command's size sane). */
export function chunked(
  name: string,
  key: Buffer,
  flat: Buffer[],
  per: number,
  head: (string | Buffer)[] = [],
): Command[] {
  const out: Command[] = [];
  for (let i = 0; i < flat.length; i += per) out.push([name, key, ...head, ...flat.slice(i, i + per)]);
  return out;
}

/** Arguments per write command: large enough to amortise round trips, small enough to keep each reply quick. */
export const ARGS_PER_COMMAND = 1024;
