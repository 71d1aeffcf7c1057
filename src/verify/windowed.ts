import { ConnectionError } from '../common/errors.js';
import type { WindowLoader } from '../journal/reader.js';
import type { WindowedType } from '../journal/types.js';
import { SeenKeys } from '../scan/seen-keys.js';
import { classifyReply } from '../servers/errors/classify.js';
import type { Command, Reply } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import type { MergeOptions, NativeType } from '../types/strategy.js';
import { hashCodec } from '../write/native/hash.js';
import { CODECS } from '../write/native/index.js';
import type { StreamValue } from '../write/native/stream.js';
import { parseScore, zsetCodec } from '../write/native/zset.js';
import { valueWindows } from '../write/windows.js';
import { showBytes } from './show.js';

/**
 * Verify's comparison of a big key (SPEC §2.3 thresholds: over write.bigKeyElements elements or
 * write.bigKeyBytes bytes on any side) in windows, so that checking a 500 MB hash holds a few windows,
 * never the value (SPEC §8). A value is a `Held`: a key on a server read in windows (HSCAN, SSCAN,
 * ZSCAN, LRANGE, XRANGE, GETRANGE) and asked about a window's fields (HMGET, SISMEMBER, ZSCORE), or a
 * small value already in memory behind the same interface.
 *
 * The fold's expected value is not built: an outcome names its base value and the values merged into
 * it in order (`Recipe`), and each field or element of the target is checked against the fold of that
 * field over them, then every field of every side is looked up on the target. The first mismatch is
 * named (the field or element index, expected and found).
 */

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
}

/** A server side as the reads need it: its transport and, for messages, its label. */
export interface Reader {
  pipe: Transport;
  label: string;
}

/** An outcome's value without its contents: the base, then the values merged into it in order. */
export interface Recipe {
  base: Held;
  merged: Held[];
}

/** The first point where the target is not what an outcome says, as display text. */
export interface Mismatch {
  expected: string;
  found: string;
}

/** Bytes a window aims at (as the merge's big-key windows: write/bigkey.ts). */
const WINDOW_BYTES = 4 * 1024 * 1024;
/** A string is compared in chunks of this many bytes. */
const STRING_CHUNK = 1024 * 1024;
const PRESENT = Buffer.alloc(0);

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
    const known = this.type === 'list' || this.type === 'string' ? this.size : undefined;
    return valueWindows(ask, this.key, this.type, {
      windowBytes: WINDOW_BYTES,
      stringChunk: STRING_CHUNK,
      from,
      length: known,
    });
  }

  async lookup(fields: Buffer[]): Promise<(Buffer | null)[]> {
    if (fields.length === 0) return [];
    const { key, type } = this;
    if (type === 'hash') {
      const [reply] = await read(this.side, [['HMGET', key, ...fields]]);
      return Array.isArray(reply) ? (reply as (Buffer | null)[]) : fields.map(() => null);
    }
    // One command per member: SMISMEMBER and ZMSCORE are Redis 6.2+ and not on Pika.
    const replies = await read(
      this.side,
      fields.map((f): Command => [type === 'set' ? 'SISMEMBER' : 'ZSCORE', key, f]),
    );
    return replies.map((r) => (type === 'set' ? (r === 1 ? PRESENT : null) : Buffer.isBuffer(r) ? r : null));
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
    this.size = type === 'string' ? (value as Buffer).length : CODECS[type].size(value as never);
  }

  async *windows(from = 0): AsyncGenerator<unknown[]> {
    switch (this.type) {
      case 'string': {
        const bytes = this.value as Buffer;
        for (let at = 0; at < bytes.length; at += STRING_CHUNK) yield [bytes.subarray(at, at + STRING_CHUNK)];
        return;
      }
      case 'stream':
        yield (this.value as StreamValue).entries;
        return;
      case 'list':
        yield (this.value as Buffer[]).slice(from);
        return;
      default:
        yield this.value as Buffer[];
    }
  }

  async lookup(fields: Buffer[]): Promise<(Buffer | null)[]> {
    if (!this.index) {
      const { fields: names, values } = split(this.type, this.value as Buffer[]);
      this.index = new Map(names.map((f, i) => [id(f), values[i]!]));
    }
    const index = this.index;
    return fields.map((f) => index.get(id(f)) ?? null);
  }
}

/**
 * A big key's prior state as the journal holds it (PriorState 'windows', journal/big-prior.ts), read a
 * window at a time from the journal: never whole in memory. A member that the backup's SCAN returned
 * twice is given once (a 64-bit fingerprint per member: ~11 bytes each while it is walked). It cannot
 * be looked up by field: a comparison walks it instead (exactKeyedOverBase). `open` reads it once to
 * count it.
 */
export class JournalValue implements Held {
  private constructor(
    readonly type: WindowedType,
    readonly size: number,
    private readonly at: readonly number[],
    private readonly load: WindowLoader,
  ) {}

  static async open(type: WindowedType, at: readonly number[], load: WindowLoader): Promise<JournalValue> {
    let size = 0;
    for await (const window of new JournalValue(type, 0, at, load).windows()) {
      size +=
        type === 'string' ? (window[0] as Buffer).length : keyed(type) ? window.length / 2 : window.length;
    }
    return new JournalValue(type, size, at, load);
  }

  async *windows(from = 0): AsyncGenerator<unknown[]> {
    const seen = this.type === 'set' || keyed(this.type) ? new SeenKeys() : undefined;
    let skip = from;
    let text: Buffer[] = [];
    let textBytes = 0;
    for (const offset of this.at) {
      let { items } = await this.load(offset);
      if (this.type === 'string') {
        // Cut as the target's windows are cut (STRING_CHUNK), so that chunks compare one to one.
        text.push(...items);
        textBytes += items.reduce((n, b) => n + b.length, 0);
        while (textBytes >= STRING_CHUNK) {
          const all = Buffer.concat(text);
          yield [all.subarray(0, STRING_CHUNK)];
          text = [all.subarray(STRING_CHUNK)];
          textBytes -= STRING_CHUNK;
        }
        continue;
      }
      if (seen) items = firstSeen(this.type, items, seen);
      if (skip > 0) {
        const dropped = Math.min(skip, items.length);
        items = items.slice(dropped);
        skip -= dropped;
      }
      if (items.length > 0) yield items;
    }
    if (textBytes > 0) yield [Buffer.concat(text)];
  }

  lookup(): Promise<(Buffer | null)[]> {
    return Promise.reject(new Error('internal: a journaled big prior is walked, not looked up'));
  }
}

const keyed = (type: NativeType): boolean => type === 'hash' || type === 'zset';

/** The window's members (with their values) that `seen` has not had yet, recording them. */
function firstSeen(type: NativeType, items: Buffer[], seen: SeenKeys): Buffer[] {
  if (type === 'set') return items.filter((m) => seen.add(m));
  const out: Buffer[] = [];
  const member = type === 'zset' ? 1 : 0;
  for (let i = 0; i < items.length; i += 2) {
    if (seen.add(items[i + member]!)) out.push(items[i]!, items[i + 1]!);
  }
  return out;
}

const id = (b: Buffer): string => b.toString('latin1');

/** A keyed window's fields and their values (zset: scores; set: a mark). */
function split(type: NativeType, flat: Buffer[]): { fields: Buffer[]; values: Buffer[] } {
  if (type === 'set') return { fields: flat, values: flat.map(() => PRESENT) };
  const fields: Buffer[] = [];
  const values: Buffer[] = [];
  const [f, v] = type === 'zset' ? [1, 0] : [0, 1];
  for (let i = 0; i < flat.length; i += 2) {
    fields.push(flat[i + f]!);
    values.push(flat[i + v]!);
  }
  return { fields, values };
}

function sameField(type: NativeType, a: Buffer, b: Buffer): boolean {
  return type === 'zset' ? parseScore(a) === parseScore(b) : a.equals(b);
}

/** One merge step on one field (SPEC §1.4), by the codec's own mergeValues on a one-field value. */
function mergeField(type: NativeType, current: Buffer, incoming: Buffer, opts: MergeOptions): Buffer {
  if (type === 'set') return PRESENT;
  if (type === 'hash') return hashCodec.mergeValues([PRESENT, current], [PRESENT, incoming], opts)[1]!;
  return zsetCodec.mergeValues([current, PRESENT], [incoming, PRESENT], opts)[0]!;
}

const NAMES: Record<NativeType, string> = {
  string: 'bytes',
  hash: 'fields',
  set: 'members',
  zset: 'members',
  list: 'elements',
  stream: 'entries',
};

/** A big value in one line: its type and size (the contents are not shown). */
export function showHeld(held: Held): string {
  return `${held.type} of ${held.size} ${NAMES[held.type]}`;
}

function showField(type: NativeType, field: Buffer, value: Buffer | null): string {
  if (value === null) return `no ${type === 'hash' ? 'field' : 'member'} ${showBytes(field)}`;
  if (type === 'set') return `member ${showBytes(field)}`;
  return `${showBytes(field)}: ${type === 'zset' ? value.toString() : showBytes(value)}`;
}

/**
 * Whether `found` is the outcome's value: `exact` (the recipe's fold) or, for `contains`, a value of
 * unknown contents into which `merged` were merged (expect.ts says what each strategy guarantees).
 */
export async function compareHeld(
  found: Held,
  outcome: { kind: 'exact'; recipe: Recipe } | { kind: 'contains'; merged: Held[] },
  opts: MergeOptions,
): Promise<Mismatch | null> {
  const mismatch = await compare(found, outcome, opts);
  if (!mismatch) return null;
  return { expected: mismatch.expected, found: `${showHeld(found)}, ${mismatch.found}` };
}

async function compare(
  found: Held,
  outcome: { kind: 'exact'; recipe: Recipe } | { kind: 'contains'; merged: Held[] },
  opts: MergeOptions,
): Promise<Mismatch | null> {
  const type = found.type;
  if (outcome.kind === 'contains' && outcome.merged.length === 0) return null;
  switch (type) {
    case 'hash':
    case 'set':
    case 'zset':
      return outcome.kind === 'exact'
        ? exactKeyed(found, [outcome.recipe.base, ...outcome.recipe.merged], opts)
        : containsKeyed(found, outcome.merged, opts);
    case 'list':
      return outcome.kind === 'exact'
        ? exactList(found, outcome.recipe, opts)
        : containsList(found, outcome.merged, opts);
    case 'string':
    case 'stream': {
      // They never merge (SPEC §1.4): an exact outcome is one value.
      if (outcome.kind === 'contains') return null;
      const expected = outcome.recipe.base;
      if (expected.size !== found.size && type === 'string')
        return { expected: showHeld(expected), found: 'not as long' };
      const at = await zip(expected.windows(), found.windows(), (a, b) => sameItem(type, a, b));
      return at && itemMismatch(type, expected, at);
    }
  }
}

/** The fold of one field over `sides` (the first is the base): null where no side has it. */
function foldField(type: NativeType, values: (Buffer | null)[], opts: MergeOptions): Buffer | null {
  let v: Buffer | null = null;
  for (const x of values) if (x !== null) v = v === null ? x : mergeField(type, v, x, opts);
  return v;
}

/**
 * Exact, keyed: every field of the target is the fold of that field over the sides, and every field
 * of every side is on the target. Memory: a window of the target and the sides' answers for it.
 */
async function exactKeyed(found: Held, sides: Held[], opts: MergeOptions): Promise<Mismatch | null> {
  if (sides[0] instanceof JournalValue) return exactKeyedOverBase(found, sides[0], sides.slice(1), opts);
  const type = found.type;
  const expectedOf = async (fields: Buffer[]): Promise<(Buffer | null)[]> => {
    const per = await Promise.all(sides.map((s) => s.lookup(fields)));
    return fields.map((_, i) =>
      foldField(
        type,
        per.map((p) => p[i]!),
        opts,
      ),
    );
  };
  for await (const window of found.windows()) {
    const { fields, values } = split(type, window as Buffer[]);
    const expected = await expectedOf(fields);
    for (let i = 0; i < fields.length; i++) {
      const want = expected[i]!;
      if (want === null || !sameField(type, want, values[i]!)) {
        return {
          expected: showField(type, fields[i]!, want),
          found: showField(type, fields[i]!, values[i]!),
        };
      }
    }
  }
  for (const side of sides) {
    for await (const window of side.windows()) {
      const { fields } = split(type, window as Buffer[]);
      const held = await found.lookup(fields);
      const missing = held.indexOf(null);
      if (missing >= 0) {
        const [want] = await expectedOf([fields[missing]!]);
        return {
          expected: showField(type, fields[missing]!, want ?? null),
          found: showField(type, fields[missing]!, null),
        };
      }
    }
  }
  return null;
}

/**
 * Exact, keyed, over a base that can only be walked (a journaled big prior: JournalValue): every field
 * of the base is on the target with the fold of it over the base and the merged sides; every field of
 * a merged side that the base lacks (known by fingerprint, ~11 bytes a field of the base) is on the
 * target with the fold over the merged sides; and the target holds no other field (its size is the
 * count of those). Memory: a window, the base's fingerprints.
 */
async function exactKeyedOverBase(
  found: Held,
  base: JournalValue,
  merged: Held[],
  opts: MergeOptions,
): Promise<Mismatch | null> {
  const type = found.type;
  const inBase = new SeenKeys();
  let fields = 0;
  const differs = (field: Buffer, want: Buffer | null, have: Buffer | null): Mismatch | null =>
    want !== null && have !== null && sameField(type, want, have)
      ? null
      : { expected: showField(type, field, want), found: showField(type, field, have) };
  for await (const window of base.windows()) {
    const { fields: names, values } = split(type, window as Buffer[]);
    for (const name of names) inBase.add(name);
    fields += names.length;
    const [have, ...per] = await Promise.all([found, ...merged].map((side) => side.lookup(names)));
    for (let i = 0; i < names.length; i++) {
      const want = foldField(type, [values[i]!, ...per.map((p) => p[i]!)], opts);
      const mismatch = differs(names[i]!, want, have![i]!);
      if (mismatch) return mismatch;
    }
  }
  for (const [j, side] of merged.entries()) {
    for await (const window of side.windows()) {
      // Each field once: where the base lacks it and no earlier merged side has it.
      const names = split(type, window as Buffer[]).fields.filter((f) => !inBase.has(f));
      if (names.length === 0) continue;
      const [have, ...per] = await Promise.all([found, ...merged].map((m) => m.lookup(names)));
      for (let i = 0; i < names.length; i++) {
        if (per.slice(0, j).some((p) => p[i] !== null)) continue;
        fields++;
        const mismatch = differs(
          names[i]!,
          foldField(
            type,
            per.map((p) => p[i]!),
            opts,
          ),
          have![i]!,
        );
        if (mismatch) return mismatch;
      }
    }
  }
  if (found.size !== fields) return { expected: `${type} of ${fields} ${NAMES[type]}`, found: 'more' };
  return null;
}

/**
 * Contains, keyed: every field merged is on the target, with a value the strategy allows (hash
 * `source`: the last source's; zset `source`: the last score, `max`: at least the largest, `min`: at
 * most the smallest; otherwise any). Memory: a window of the target and the answers for it.
 */
async function containsKeyed(found: Held, merged: Held[], opts: MergeOptions): Promise<Mismatch | null> {
  const type = found.type;
  for await (const window of found.windows()) {
    const { fields, values } = split(type, window as Buffer[]);
    const per = await Promise.all(merged.map((m) => m.lookup(fields)));
    for (let i = 0; i < fields.length; i++) {
      const given = per.map((p) => p[i]!).filter((v): v is Buffer => v !== null);
      if (given.length === 0 || type === 'set') continue;
      const have = values[i]!;
      const last = given[given.length - 1]!;
      let ok = true;
      let want = last;
      if (type === 'hash') ok = opts.hashField !== 'source' || have.equals(last);
      else {
        const scores = given.map(parseScore);
        const score = parseScore(have);
        if (opts.zsetScore === 'source') ok = score === parseScore(last);
        else if (opts.zsetScore === 'max') {
          want = given[scores.indexOf(Math.max(...scores))]!;
          ok = score >= parseScore(want);
        } else if (opts.zsetScore === 'min') {
          want = given[scores.indexOf(Math.min(...scores))]!;
          ok = score <= parseScore(want);
        }
      }
      if (!ok) {
        const rule = type === 'zset' && opts.zsetScore !== 'source' ? `${opts.zsetScore} of ` : '';
        return {
          expected: `a ${type} that contains ${rule}${showField(type, fields[i]!, want)}`,
          found: showField(type, fields[i]!, have),
        };
      }
    }
  }
  for (const side of merged) {
    for await (const window of side.windows()) {
      const { fields, values } = split(type, window as Buffer[]);
      const held = await found.lookup(fields);
      const missing = held.indexOf(null);
      if (missing >= 0) {
        return {
          expected: `a ${type} that contains ${showField(type, fields[missing]!, values[missing]!)}`,
          found: showField(type, fields[missing]!, null),
        };
      }
    }
  }
  return null;
}

/** The elements of several values one after another, window by window. */
async function* concat(values: Held[]): AsyncGenerator<unknown[]> {
  for (const v of values) yield* v.windows();
}

/**
 * Exact, list: append is base ++ m1 ++ … ++ mk, prepend mk ++ … ++ m1 ++ base, compared element by
 * element. Union is base then each merged element not held yet: that needs every element so far,
 * which is held as a 64-bit fingerprint each (SeenKeys, ~11 bytes an element), not the elements.
 */
async function exactList(found: Held, recipe: Recipe, opts: MergeOptions): Promise<Mismatch | null> {
  const { base, merged } = recipe;
  let expected: AsyncGenerator<unknown[]>;
  if (opts.list === 'union') expected = unionOf([base, ...merged]);
  else {
    const order = opts.list === 'append' ? [base, ...merged] : [...merged].reverse().concat(base);
    const length = order.reduce((n, v) => n + v.size, 0);
    if (length !== found.size) return { expected: `list of ${length} elements`, found: 'not as many' };
    expected = concat(order);
  }
  const at = await zip(expected, found.windows(), (a, b) => (a as Buffer).equals(b as Buffer));
  return at && itemMismatch('list', found, at);
}

async function* unionOf(values: Held[]): AsyncGenerator<unknown[]> {
  const seen = new SeenKeys();
  for await (const window of concat(values)) {
    const fresh = (window as Buffer[]).filter((e) => seen.add(e));
    if (fresh.length > 0) yield fresh;
  }
}

/**
 * Contains, list: append ends with m1 ++ … ++ mk, prepend starts with mk ++ … ++ m1 (compared
 * element by element from that index); union holds every merged element, which needs the target's
 * elements as fingerprints (SeenKeys, ~11 bytes an element).
 */
async function containsList(found: Held, merged: Held[], opts: MergeOptions): Promise<Mismatch | null> {
  if (opts.list === 'union') {
    const held = new SeenKeys();
    for await (const window of found.windows()) for (const e of window as Buffer[]) held.add(e);
    for await (const window of concat(merged)) {
      const missing = (window as Buffer[]).find((e) => !held.has(e));
      if (missing) return { expected: `list that holds ${showBytes(missing)}`, found: 'not held' };
    }
    return null;
  }
  const run = opts.list === 'append' ? merged : [...merged].reverse();
  const length = run.reduce((n, v) => n + v.size, 0);
  const what = opts.list === 'append' ? 'ends' : 'starts';
  if (length > found.size) return { expected: `list that ${what} with ${length} elements`, found: 'fewer' };
  const from = opts.list === 'append' ? found.size - length : 0;
  const at = await zip(concat(run), found.windows(from), (a, b) => (a as Buffer).equals(b as Buffer), true);
  if (!at) return null;
  return itemMismatch(
    'list',
    found,
    { ...at, index: at.index + from },
    `a list that ${what} with the sources' elements:`,
  );
}

interface ZipMismatch {
  index: number;
  expected: unknown;
  found: unknown;
}

/**
 * Walks two windowed sequences side by side; the first index where they differ (one ending early
 * included), or null. `prefix`: only `expected` must be exhausted (found may go on).
 */
async function zip(
  expected: AsyncGenerator<unknown[]>,
  found: AsyncGenerator<unknown[]>,
  same: (a: unknown, b: unknown) => boolean,
  prefix = false,
): Promise<ZipMismatch | null> {
  const a = new Cursor(expected);
  const b = new Cursor(found);
  try {
    for (let index = 0; ; index++) {
      const x = await a.next();
      if (x === undefined && prefix) return null;
      const y = await b.next();
      if (x === undefined && y === undefined) return null;
      if (x === undefined || y === undefined || !same(x, y)) return { index, expected: x, found: y };
    }
  } finally {
    await Promise.all([expected.return(undefined), found.return(undefined)]);
  }
}

/** One element at a time out of a windowed sequence (one window held). */
class Cursor {
  private window: unknown[] = [];
  private at = 0;
  constructor(private readonly source: AsyncGenerator<unknown[]>) {}
  async next(): Promise<unknown> {
    while (this.at >= this.window.length) {
      const step = await this.source.next();
      if (step.done) return undefined;
      this.window = step.value;
      this.at = 0;
    }
    return this.window[this.at++];
  }
}

function sameItem(type: NativeType, a: unknown, b: unknown): boolean {
  if (type !== 'stream') return (a as Buffer).equals(b as Buffer);
  const [xid, xf] = a as [Buffer, Buffer[]];
  const [yid, yf] = b as [Buffer, Buffer[]];
  return xid.equals(yid) && xf.length === yf.length && xf.every((f, i) => f.equals(yf[i]!));
}

function showItem(type: NativeType, item: unknown): string {
  if (item === undefined) return 'nothing';
  if (type === 'stream') return `entry ${(item as [Buffer])[0].toString()}`;
  return showBytes(item as Buffer);
}

function itemMismatch(type: NativeType, shown: Held, at: ZipMismatch, what?: string): Mismatch {
  const whole = what ?? `${type === 'list' ? 'a list' : showHeld(shown)} with`;
  if (type === 'string') {
    // Two chunks that differ: shown from their first differing byte, which is named.
    const a = (at.expected as Buffer | undefined) ?? Buffer.alloc(0);
    const b = (at.found as Buffer | undefined) ?? Buffer.alloc(0);
    let d = 0;
    while (d < a.length && d < b.length && a[d] === b[d]) d++;
    const where = `at byte ${at.index * STRING_CHUNK + d}`;
    const tail = (x: Buffer): string => (d < x.length ? showBytes(x.subarray(d)) : 'the end');
    return { expected: `${whole} ${tail(a)} ${where}`, found: `${tail(b)} ${where}` };
  }
  const where = `at [${at.index}]`;
  return {
    expected: `${whole} ${showItem(type, at.expected)} ${where}`,
    found: `${showItem(type, at.found)} ${where}`,
  };
}
