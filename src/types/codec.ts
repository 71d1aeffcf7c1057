import type { Caps } from '../servers/caps.js';
import type { Command } from '../servers/resp.js';
import type { MergeOptions, NativeType } from './strategy.js';

/**
 * What a codec must know of the server it reads from or writes to (DESIGN.md seam 1). `hashFieldTtls`:
 * the writer may give hash fields their own expiry (HPEXPIREAT); unknown counts as no.
 */
export type Dialect = Pick<Caps, 'multiPairHset' | 'zaddFlags' | 'zrangeComplete' | 'streamGroups'> &
  Partial<Pick<Caps, 'hashFieldTtls'>>;

/** Redis and Valkey: every command the codecs use exists with every option. */
export const REDIS_DIALECT: Dialect = {
  multiPairHset: true,
  zaddFlags: true,
  zrangeComplete: true,
  streamGroups: true,
};

/**
 * How one type is read from a source and written to the target with its own commands
 * (SPEC §2.1 native path). Pure: builds commands and decodes replies; the writer sends them.
 * `dialect` is the server's (the source's for read/decode, the target's for the rest).
 */
export interface NativeCodec<V> {
  type: NativeType;
  /** Commands that read the whole value; their replies (as Buffers) go to decode(). */
  read(key: Buffer, dialect?: Dialect): Command[];
  /** The value from the replies of read(), or null when the key was gone (empty reply). */
  decode(replies: unknown[], dialect?: Dialect): V | null;
  /** Commands that write the value into a key that does not exist (the caller deletes first when replacing). */
  write(key: Buffer, value: V, dialect?: Dialect): Command[];
  /**
   * Commands that merge the value into the existing key of the same type (SPEC §1.4).
   * `current` is the target's present value (read with read()), for the merges that need it.
   */
  merge(key: Buffer, value: V, opts: MergeOptions, current?: V, dialect?: Dialect): Command[];
  /** Merges that must see the target's value first (list union; zset rules the target's ZADD lacks). */
  needsCurrent?(opts: MergeOptions, dialect: Dialect): boolean;
  /**
   * Commands that empty this type of the key and nothing else, given its present value: for a server
   * where one name holds several types and DEL would remove them all (Pika 3.x).
   */
  clear(key: Buffer, current: V | null): Command[];
  /** Number of elements, for sizing. */
  size(value: V): number;
  /** The command that counts the key's elements (a string's bytes): sizes a big key before it is read. */
  count(key: Buffer): Command;
  /**
   * The value one `merge` step (SPEC §1.4) leaves: `incoming` merged into `current`, both of this
   * type. Pure, no I/O: the definition that verify and the tests compare the target with (the merge
   * commands above are the same step expressed as writes). Throws for a type that cannot merge.
   */
  mergeValues(current: V, incoming: V, opts: MergeOptions): V;
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
