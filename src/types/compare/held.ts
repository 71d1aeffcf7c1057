import type { SeenKeys } from '../../common/seen-keys.js';
import type { Command } from '../../servers/resp.js';
import type { MergeOptions, NativeType } from '../../types/strategy.js';

/**
 * What verify asks of each type (src/types/<type>/verify.ts; the table is src/types/verify.ts), and
 * the shapes those answers take. Two parts: a whole value (read at once, compared in memory) and a
 * big value (SPEC §2.3, over write.bigKeyElements or write.bigKeyBytes on any side) compared in
 * windows, so that checking a 500 MB hash holds a few windows, never the value (SPEC §8).
 */

/** Verify's knowledge of one type's whole values (every type, a module type included). */
export interface ValueVerify {
  /** Whether two values of this type are the same value. */
  same(a: unknown, b: unknown): boolean;
  /**
   * Whether `found` holds what merging `merged` (in order) into a value of unknown contents
   * guarantees under `opts` (src/verify/expect.ts says what each strategy guarantees).
   */
  contains(found: unknown, merged: unknown[], opts: MergeOptions): boolean;
  /** The value in one short line. */
  show(value: unknown): string;
  /** Whether a server keeps this type's TTL (Pika keeps none on a stream: `streamTtl` false). */
  keepsTtl(caps: { streamTtl?: boolean }): boolean;
  /** Its values carry field TTLs (a hash on Redis 7.4+: read from DUMP, src/verify/field-ttls.ts). */
  fieldTtls?: true;
  /** A journal's native image (src/journal/types.ts) in the codec's form. */
  fromImage?(image: unknown): unknown;
}

/** A value on one side, read in windows. */
export interface Held {
  type: NativeType;
  /** Elements (a string: bytes). */
  size: number;
  /**
   * The value in windows, in the codec's flat layout: hash field, value, …; zset score, member, …;
   * set and list members; stream entries; a string in chunks of STRING_CHUNK bytes (the same cut on
   * every side, so chunks compare one to one). `from`: a list's first index.
   */
  windows(from?: number): AsyncGenerator<unknown[]>;
  /** Keyed types: each field's value (hash), score (zset) or a mark (set); null where it has none. */
  lookup(fields: Buffer[]): Promise<(Buffer | null)[]>;
  /** It can only be walked, not looked up (a big prior in the journal). */
  readonly walkOnly?: boolean;
}

/** An outcome's value without its contents: the base, then the values merged into it in order. */
export interface Recipe {
  base: Held;
  merged: Held[];
}

/** What the target must be: the recipe's fold, or a value of unknown contents `merged` were merged into. */
export type HeldOutcome = { kind: 'exact'; recipe: Recipe } | { kind: 'contains'; merged: Held[] };

/** The first point where the target is not what an outcome says, as display text. */
export interface Mismatch {
  expected: string;
  found: string;
}

/** Verify's knowledge of one native type's big values, compared in windows. */
export interface WindowedVerify extends ValueVerify {
  /** What its elements are called ("hash of 12 fields"). */
  elements: string;
  /** Elements of a value in memory (a string: bytes). */
  size(value: unknown): number;
  /** A value in memory as windows of the Held layout, from element `from` (lists). */
  windowsOf(value: unknown, from: number): unknown[][];
  /** Its windows are cuts of its bytes, STRING_CHUNK each (a string), not elements. */
  chunked?: true;
  /** Elements in a window as the journal holds it (a string's: bytes). */
  windowSize(window: Buffer[]): number;
  /** The window's elements (with their values) that `seen` has not had yet, recording them; none: all. */
  firstSeen?(window: Buffer[], seen: SeenKeys): Buffer[];
  /** Keyed types: a window's fields and their values (a set: a mark). */
  split?(window: Buffer[]): { fields: Buffer[]; values: Buffer[] };
  /** Keyed types: the reads that look fields up on a server, and their answers per field. */
  lookup?: {
    commands(key: Buffer, fields: Buffer[]): Command[];
    answers(replies: unknown[], fields: Buffer[]): (Buffer | null)[];
  };
  /** Whether `found` is the outcome's value: the first mismatch, or null. */
  compare(found: Held, outcome: HeldOutcome, opts: MergeOptions): Promise<Mismatch | null>;
}

/** A string is compared in chunks of this many bytes (the same cut on every side). */
export const STRING_CHUNK = 1024 * 1024;

/** A set member's value in a keyed window: present. */
export const PRESENT = Buffer.alloc(0);

/** A key for maps of bytes. */
export const id = (b: Buffer): string => b.toString('latin1');

/** A big value in one line: its type and size (the contents are not shown). */
export function showHeld(held: Held, elements: string): string {
  return `${held.type} of ${held.size} ${elements}`;
}
