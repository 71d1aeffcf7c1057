import type { Caps } from '../servers/caps.js';
import type { Command, Reply } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import type { Dialect } from './codec.js';
import type { MergeOptions } from './strategy.js';

/**
 * One command to the server that holds the value, and its reply. An error reply may be thrown or
 * returned; a reply of another shape than the command gives (WRONGTYPE: the key changed meanwhile)
 * ends the windows.
 */
export type Ask = (command: Command) => Promise<Reply>;

export interface WalkOptions {
  /** The bytes a window aims at. */
  windowBytes: number;
  /** A string's chunk, where it must be a fixed cut (verify compares chunks); default windowBytes. */
  stringChunk?: number;
  /** Lists: windows from the tail to the head (a prepend merge). */
  fromTail?: boolean;
  /** Lists: the first index to read. */
  from?: number;
  /** The value's length by `length` (a list's, a string's), where the reads go by position. */
  length: number;
  /** The server that holds the value, as a user may read it: named where its cursor is broken. */
  server?: string;
}

/** The reads of one value, window after window; it holds where the next window starts. */
export interface WindowWalk {
  /** The command that reads the next window, of about `count` elements; null once the value is read. */
  next(count: number): Command | null;
  /**
   * The window in the reply to that command: [] where it holds nothing but more may come (a SCAN
   * page), null where the windows end (nothing more, or a reply of another shape).
   */
  take(reply: Reply): Buffer[] | null;
}

/** How a window merges into the key itself, once set up for one key. */
export interface WindowMerge {
  /** Lists merged at the head: the source is read from its tail. */
  fromTail: boolean;
  /** The commands that merge one window into the key (they may read the target first). */
  commands(window: Buffer[]): Promise<Command[]>;
}

export interface MergeSetup {
  /** The target, for the reads a merge needs (what a list holds, a zset's present scores). */
  target: Transport;
  key: Buffer;
  opts: MergeOptions;
  dialect: Dialect;
  windowBytes: number;
}

/**
 * What one type knows of its big values (SPEC §2.3): how a window is read, how it is written into a
 * key being built or merged into the key itself, and the decisions of a windowed copy that differ by
 * type. write/windows.ts and write/bigkey.ts run the flow and ask this table.
 */
export interface WindowOps {
  /** The command that sizes the value first, where windows go by position (LLEN, STRLEN). */
  length?(key: Buffer): Command;
  walk(key: Buffer, opts: WalkOptions): WindowWalk;
  /** A window's bytes and elements: the next window's element count follows them. */
  measure(window: Buffer[]): { bytes: number; elements: number };
  /** The commands that write one window into a key being built (aside, or inside one transaction). */
  write(into: Buffer, window: Buffer[], dialect: Dialect): Command[];
  /** How windows merge into the key itself; undefined for a type that cannot merge. */
  merge?(setup: MergeSetup): Promise<WindowMerge>;
  /**
   * A merge built aside and folded in by one command (zset sum: a member SCAN returns twice must not
   * be added twice, SPEC §1.6): whether `opts` asks for it, and the command that folds `aside` into `key`.
   */
  mergeAside?: { wanted(opts: MergeOptions): boolean; fold(key: Buffer, aside: Buffer): Command };
  /**
   * A window merged into the key is told applied after a drop by the key's length (a list: LLEN
   * against the length before plus what the window pushes); undefined where sending it again is harmless.
   */
  pushes?(commands: readonly Command[]): number;
  /** What the value holds beside its windows (a stream's last id and groups), as commands on `into`. */
  tail?(source: Transport, key: Buffer, into: Buffer, sourceCaps: Caps, targetCaps: Caps): Promise<Command[]>;
  /** Whether the source's TTL of this type is kept (Pika's streams have none). */
  ttlKept?(sourceCaps: Caps): boolean;
  /** Emptying this type alone of a shared name needs its members (HDEL, SREM): they are read first. */
  clearReads?: boolean;
  /** Where the name's other types stay, the commands that start the value over before its windows. */
  startShared?(key: Buffer): Command[];
}
