import { ConnectionError } from '../common/errors.js';
import { SeenKeys } from '../common/seen-keys.js';
import type { WindowLoader } from '../journal/reader.js';
import type { WindowedType } from '../journal/types.js';
import { classifyReply } from '../servers/errors/classify.js';
import type { Command, Reply } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import type { MergeOptions, NativeType } from '../types/strategy.js';
import {
  type Held,
  type HeldOutcome,
  type Mismatch,
  STRING_CHUNK,
  showHeld,
  windowedOf,
} from '../types/verify.js';
import { valueWindows } from '../write/windows.js';

/**
 * The values verify compares in windows (a big key: SPEC §2.3 thresholds, over write.bigKeyElements
 * elements or write.bigKeyBytes bytes on any side), so that checking a 500 MB hash holds a few
 * windows, never the value (SPEC §8). A value is a `Held`: a key on a server read in windows (HSCAN,
 * SSCAN, ZSCAN, LRANGE, XRANGE, GETRANGE) and asked about a window's fields (HMGET, SISMEMBER,
 * ZSCORE), a small value already in memory behind the same interface, or a big prior in the journal.
 *
 * The fold's expected value is not built: an outcome names its base value and the values merged into
 * it in order (a Recipe), and each type compares the target with it (src/types/<type>/verify.ts),
 * naming the first mismatch (the field or element index, expected and found).
 */

export type { Held, Mismatch, Recipe } from '../types/verify.js';

/** A server side as the reads need it: its transport and, for messages, its label. */
export interface Reader {
  pipe: Transport;
  label: string;
}

/** Bytes a window aims at (as the merge's big-key windows: write/bigkey.ts). */
export const WINDOW_BYTES = 4 * 1024 * 1024;

/** An error reply that means the user may not read: exit 2, naming the server. */
export function refused(side: { label: string }, reply: Error): ConnectionError {
  return new ConnectionError(
    `${side.label} refused a read: ${reply.message.split('\n')[0]}; verify needs read commands (+@read) on every server`,
  );
}

/** Sends reads; a refusal is exit 2. WRONGTYPE (the key changed meanwhile) comes back as an Error. */
async function read(side: Reader, commands: Command[]): Promise<Reply[]> {
  if (commands.length === 0) return [];
  const replies = await side.pipe.send(commands);
  for (const r of replies) if (r instanceof Error && classifyReply(r) !== 'wrongtype') throw refused(side, r);
  return replies;
}

/** A key on a server, read in windows. */
export class RemoteValue implements Held {
  constructor(
    private readonly side: Reader,
    private readonly key: Buffer,
    readonly type: NativeType,
    readonly size: number,
  ) {}

  windows(from = 0): AsyncGenerator<unknown[]> {
    const ask = async (command: Command): Promise<Reply> => (await read(this.side, [command]))[0]!;
    // WRONGTYPE comes back as an Error reply, not a window: the key changed meanwhile, the windows end.
    // The length is known (a list's or a string's: the others have none to give).
    return valueWindows(ask, this.key, this.type, {
      windowBytes: WINDOW_BYTES,
      stringChunk: STRING_CHUNK,
      from,
      length: this.size,
    });
  }

  async lookup(fields: Buffer[]): Promise<(Buffer | null)[]> {
    const lookup = windowedOf(this.type).lookup;
    if (fields.length === 0 || !lookup) return [];
    return lookup.answers(await read(this.side, lookup.commands(this.key, fields)), fields);
  }
}

/** A value already in memory (a small side of a big key's comparison, a journaled prior). */
export class HeldValue implements Held {
  readonly size: number;
  private index: Map<string, Buffer> | undefined;

  constructor(
    readonly type: NativeType,
    private readonly value: unknown,
  ) {
    this.size = windowedOf(type).size(value);
  }

  async *windows(from = 0): AsyncGenerator<unknown[]> {
    yield* windowedOf(this.type).windowsOf(this.value, from);
  }

  async lookup(fields: Buffer[]): Promise<(Buffer | null)[]> {
    if (!this.index) {
      const split = windowedOf(this.type).split;
      const { fields: names, values } = split ? split(this.value as Buffer[]) : { fields: [], values: [] };
      this.index = new Map(names.map((f, i) => [f.toString('latin1'), values[i]!]));
    }
    const index = this.index;
    return fields.map((f) => index.get(f.toString('latin1')) ?? null);
  }
}

/**
 * A big key's prior state as the journal holds it (PriorState 'windows', journal/big-prior.ts), read a
 * window at a time from the journal: never whole in memory. A member that the backup's SCAN returned
 * twice is given once (a 64-bit fingerprint per member: ~11 bytes each while it is walked). It cannot
 * be looked up by field: a comparison walks it instead. `open` reads it once to count it.
 */
export class JournalValue implements Held {
  readonly walkOnly = true;

  private constructor(
    readonly type: WindowedType,
    readonly size: number,
    private readonly at: readonly number[],
    private readonly load: WindowLoader,
  ) {}

  static async open(type: WindowedType, at: readonly number[], load: WindowLoader): Promise<JournalValue> {
    let size = 0;
    for await (const window of new JournalValue(type, 0, at, load).windows())
      size += windowedOf(type).windowSize(window as Buffer[]);
    return new JournalValue(type, size, at, load);
  }

  async *windows(from = 0): AsyncGenerator<unknown[]> {
    const { firstSeen } = windowedOf(this.type);
    const seen = firstSeen ? new SeenKeys() : undefined;
    const load = this.load;
    async function* stored(at: readonly number[]): AsyncGenerator<Buffer[]> {
      for (const offset of at) {
        const { items } = await load(offset);
        yield firstSeen && seen ? firstSeen(items, seen) : items;
      }
    }
    yield* windowsFrom(this.type, stored(this.at), from);
  }

  lookup(): Promise<(Buffer | null)[]> {
    return Promise.reject(new Error('internal: a journaled big prior is walked, not looked up'));
  }
}

/**
 * A side's windows as a comparison takes them, from the element `from` on: a string's bytes cut again
 * as every side's are (STRING_CHUNK), so that chunks compare one to one; empty windows left out.
 */
export async function* windowsFrom(
  type: Parameters<typeof windowedOf>[0],
  windows: AsyncIterable<Buffer[]>,
  from: number,
): AsyncGenerator<unknown[]> {
  const { chunked } = windowedOf(type);
  const chunks = new Rechunk();
  let skip = from;
  for await (let items of windows) {
    if (chunked) {
      yield* chunks.add(items);
      continue;
    }
    if (skip > 0) {
      const dropped = Math.min(skip, items.length);
      items = items.slice(dropped);
      skip -= dropped;
    }
    if (items.length > 0) yield items;
  }
  yield* chunks.rest();
}

/** Bytes recut into windows of one STRING_CHUNK each, the last one shorter. */
export class Rechunk {
  private text: Buffer[] = [];
  private bytes = 0;

  *add(items: Buffer[]): Generator<Buffer[]> {
    this.text.push(...items);
    this.bytes += items.reduce((n, b) => n + b.length, 0);
    while (this.bytes >= STRING_CHUNK) {
      const all = Buffer.concat(this.text);
      yield [all.subarray(0, STRING_CHUNK)];
      this.text = [all.subarray(STRING_CHUNK)];
      this.bytes -= STRING_CHUNK;
    }
  }

  *rest(): Generator<Buffer[]> {
    if (this.bytes > 0) yield [Buffer.concat(this.text)];
  }
}

/**
 * Whether `found` is the outcome's value: `exact` (the recipe's fold) or, for `contains`, a value of
 * unknown contents into which `merged` were merged (expect.ts says what each strategy guarantees).
 */
export async function compareHeld(
  found: Held,
  outcome: HeldOutcome,
  opts: MergeOptions,
): Promise<Mismatch | null> {
  if (outcome.kind === 'contains' && outcome.merged.length === 0) return null;
  const mismatch = await windowedOf(found.type).compare(found, outcome, opts);
  if (!mismatch) return null;
  return { expected: mismatch.expected, found: `${showHeld(found)}, ${mismatch.found}` };
}
