// biome-ignore-all lint/suspicious/noAssignInExpressions: `while ((n = w.len()) === NEED) yield` is this reader's one idiom: try a token, refill until it is there
import { open } from 'node:fs/promises';
import { UnsupportedPayloadError } from '../rdb/error.js';
import type { RdbKeyRecord } from '../rdb/file/records.js';
import { NEED, Window } from '../rdb/file/window.js';
import { listpack } from '../rdb/listpack.js';
import { RdbReader } from '../rdb/reader.js';
import { ziplist } from '../rdb/ziplist.js';
import type { StreamValue } from '../types/stream/codec.js';
import { MAX_WINDOW } from '../types/window-parts.js';
import { formatScore } from '../types/zset/codec.js';
import { decodePayload } from '../write/rdb-payload.js';
import { decodeStreamMeta, streamNodeEntries } from '../write/rdb-stream.js';

export interface FileWindowOptions {
  /** The bytes a window aims at. */
  windowBytes: number;
  /** Lists: windows from the tail to the head (a prepend merge); each window's elements in list order. */
  fromTail?: boolean;
  /** Bytes read from the file at a time (default 1 MiB). */
  chunkBytes?: number;
  /** A stream's last id and consumer groups, handed over once its entries are all read. */
  onStreamMeta?(meta: Omit<StreamValue, 'entries'>): void;
}

/** What the decoding generators yield: a window, or undefined for "refill the file window, then go on". */
type Step = Buffer[] | undefined;

/**
 * A big value of an RDB file read again from the file, window by window, in the flat layout of
 * write/windows.ts (hash: field, value, …; set: members; zset: score, member, …; list: elements;
 * string: chunks; stream: entries `[id, fields]`), so that the big-key copy and verify take a file's
 * value as they take a server's. Memory is a window of the file (a chunk, or one element when an
 * element is bigger) and the window being filled, whatever the value's size; the value is decoded
 * element by element where its encoding allows (hashtables, skiplists, quicklists, a string's bytes,
 * LZF undone as it streams), and whole where it is a compact encoding (listpack, ziplist, intset:
 * small by the server's own limits).
 *
 * A hash's field TTLs are not carried, as a server's HSCAN windows do not carry them; a field already
 * expired is left out. A module value cannot be read in windows (UnsupportedPayloadError).
 */
export async function* fileValueWindows(
  path: string,
  record: RdbKeyRecord,
  opts: FileWindowOptions,
): AsyncGenerator<Buffer[]> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const w = new Window(path, fh, size, opts.chunkBytes ?? 1 << 20);
    w.recordAt = record.offset;
    const list = LIST_UNITS.has(record.valueType);
    if (opts.fromTail && list) {
      yield* tailWindows(w, record, opts);
    } else if (opts.fromTail && record.type === 'list') {
      // A compact list (one ziplist): small by the server's limits, so its windows are reversed in memory.
      const windows: Buffer[][] = [];
      w.readFrom(record.valueOffset);
      for await (const window of drive(w, decodeWindows(w, record, opts))) windows.push(window);
      yield* windows.reverse();
    } else {
      w.readFrom(record.valueOffset);
      yield* drive(w, decodeWindows(w, record, opts));
    }
  } finally {
    await fh.close();
  }
}

/** Runs a decoding generator over the file window: refills where it asks, hands on its windows. */
async function* drive(w: Window, walk: Generator<Step, void, void>): AsyncGenerator<Buffer[]> {
  for (let step = walk.next(); !step.done; step = walk.next()) {
    if (step.value === undefined) await w.more(w.offset);
    else yield step.value;
  }
}

/** Gathers elements into windows of about `windowBytes` and at most MAX_WINDOW elements. */
class Gather {
  items: Buffer[] = [];
  private bytes = 0;
  private elements = 0;
  constructor(private readonly windowBytes: number) {}

  /** Adds one element of one part (a member); true when the window is full. */
  add(part: Buffer): boolean {
    this.items.push(part);
    this.bytes += part.length + 16;
    return ++this.elements >= MAX_WINDOW || this.bytes >= this.windowBytes;
  }

  /** Adds one element of two parts (field and value, score and member); true when the window is full. */
  addPair(first: Buffer, second: Buffer): boolean {
    this.items.push(first, second);
    this.bytes += first.length + second.length + 32;
    return ++this.elements >= MAX_WINDOW || this.bytes >= this.windowBytes;
  }

  addEntry(entry: [Buffer, Buffer[]]): boolean {
    this.items.push(entry as unknown as Buffer);
    this.bytes += entry[0].length + entry[1].reduce((n, b) => n + b.length + 16, 0);
    this.elements++;
    return this.bytes >= this.windowBytes || this.elements >= MAX_WINDOW;
  }

  take(): Buffer[] {
    const out = this.items;
    this.items = [];
    this.bytes = this.elements = 0;
    return out;
  }
}

/** The types whose values are decoded element by element (the rest are one compact blob). */
function* decodeWindows(
  w: Window,
  record: RdbKeyRecord,
  opts: FileWindowOptions,
): Generator<Step, void, void> {
  const out = new Gather(opts.windowBytes);
  const type = record.valueType;
  let n: number;
  let s: Buffer | null;
  let t: Buffer | null;
  switch (type) {
    case 0: // STRING
      yield* stringChunks(w, opts.windowBytes);
      return;
    case 1: // LIST (linked list)
    case 2: // SET (hashtable)
      while ((n = w.len()) === NEED) yield;
      for (let i = 0; i < n; i++) {
        while ((s = w.string()) === null) yield;
        if (out.add(s)) yield out.take();
      }
      break;
    case 4: // HASH (hashtable): field, value
      while ((n = w.len()) === NEED) yield;
      for (let i = 0; i < n; i++) {
        while ((s = w.string()) === null) yield;
        while ((t = w.string()) === null) yield;
        if (out.addPair(s, t)) yield out.take();
      }
      break;
    case 3: // ZSET: member, score as text
    case 5: // ZSET_2: member, binary double
      while ((n = w.len()) === NEED) yield;
      for (let i = 0; i < n; i++) {
        while ((s = w.string()) === null) yield;
        let score: number | null;
        while ((score = type === 3 ? textDouble(w) : binaryDouble(w)) === null) yield;
        if (out.addPair(formatScore(score), s)) yield out.take();
      }
      break;
    case 22: // HASH_METADATA_PRE_GA: per field an absolute expiry (0: none), field, value
    case 24: {
      // HASH_METADATA: the earliest expiry, then per field an expiry relative to it (+1; 0: none)
      let base: Buffer | null;
      if (type === 24) while ((base = fixed(w, 8)) === null) yield;
      const baseMs = type === 24 ? Number(base!.readBigUInt64LE(0)) : 0;
      const at = Date.now();
      while ((n = w.len()) === NEED) yield;
      for (let i = 0; i < n; i++) {
        let ttl: number;
        while ((ttl = w.len()) === NEED) yield;
        while ((s = w.string()) === null) yield;
        while ((t = w.string()) === null) yield;
        const expireAt = ttl === 0 ? 0 : type === 24 ? ttl + baseMs - 1 : ttl;
        if ((expireAt === 0 || expireAt > at) && out.addPair(s, t)) yield out.take();
      }
      break;
    }
    case 14: // LIST_QUICKLIST: ziplist nodes
    case 18: // LIST_QUICKLIST_2: per node a container (1 plain, 2 packed), then its bytes
      while ((n = w.len()) === NEED) yield;
      for (let i = 0; i < n; i++) {
        const elements: Buffer[] = [];
        yield* listUnit(w, type, elements);
        for (const element of elements) if (out.add(element)) yield out.take();
      }
      break;
    case 15: // STREAM_LISTPACKS (Redis 5, 6.2)
    case 19: // STREAM_LISTPACKS_2 (7.0)
    case 21: {
      // STREAM_LISTPACKS_3 (7.2)
      while ((n = w.len()) === NEED) yield;
      for (let i = 0; i < n; i++) {
        while ((s = w.string()) === null) yield;
        while ((t = w.string()) === null) yield;
        for (const entry of streamNodeEntries(s, t)) if (out.addEntry(entry)) yield out.take();
      }
      // What follows the nodes (the last id, the groups and their pending entries) is read whole.
      const rest = record.valueOffset + record.valueSize - w.offset;
      while (w.end - w.pos < rest) yield;
      const meta = decodeStreamMeta(
        new RdbReader(w.buf.subarray(w.pos, w.pos + rest)),
        type === 15 ? 1 : type === 19 ? 2 : 3,
      );
      w.pos += rest;
      opts.onStreamMeta?.(meta);
      break;
    }
    case 6:
    case 7:
      throw new UnsupportedPayloadError('a module value cannot be read in windows');
    default: {
      // A compact encoding (listpack, ziplist, intset, zipmap): one blob, decoded as a DUMP payload is.
      while (w.end - w.pos < record.valueSize) yield;
      const payload = Buffer.alloc(1 + record.valueSize + 10);
      payload[0] = type;
      w.buf.copy(payload, 1, w.pos, w.pos + record.valueSize);
      w.pos += record.valueSize;
      const { value } = decodePayload(payload);
      if (!Array.isArray(value)) throw new UnsupportedPayloadError(`RDB type ${type} is not a collection`);
      const per = record.type === 'hash' || record.type === 'zset' ? 2 : 1;
      for (let i = 0; i < value.length; i += per)
        if (per === 1 ? out.add(value[i]!) : out.addPair(value[i]!, value[i + 1]!)) yield out.take();
    }
  }
  if (out.items.length > 0) yield out.take();
}

/** One unit of a list: a node's elements (quicklist 1 and 2), or one element (a linked list). */
function* listUnit(w: Window, type: number, into: Buffer[]): Generator<Step, void, void> {
  let s: Buffer | null;
  let container = 2;
  if (type === 18) while ((container = w.len()) === NEED) yield;
  while ((s = w.string()) === null) yield;
  if (type === 1 || container === 1) into.push(s);
  else into.push(...(type === 14 ? ziplist(s) : listpack(s)));
}

/** The types of lists read unit by unit, which a prepend merge reads from the tail. */
const LIST_UNITS = new Set([1, 14, 18]);

/**
 * A list's windows from the tail to the head: a first walk over the framing notes where each unit (a
 * node, or a linked list's element) starts; then runs of units of about `windowBytes` in the file are
 * decoded from the last run to the first, each run read forward (one window of the file), so that a
 * window holds its elements in list order as LRANGE gives them.
 */
async function* tailWindows(
  w: Window,
  record: RdbKeyRecord,
  opts: FileWindowOptions,
): AsyncGenerator<Buffer[]> {
  const starts: number[] = [];
  w.readFrom(record.valueOffset);
  for await (const _ of drive(w, unitStarts(w, record.valueType, starts)));
  const end = record.valueOffset + record.valueSize;
  let last = starts.length;
  while (last > 0) {
    let first = last - 1;
    const runEnd = last < starts.length ? starts[last]! : end;
    while (first > 0 && runEnd - starts[first - 1]! <= opts.windowBytes) first--;
    w.readFrom(starts[first]!);
    const elements: Buffer[] = [];
    for (let unit = first; unit < last; unit++)
      for await (const _ of drive(w, listUnit(w, record.valueType, elements)));
    if (elements.length > 0) yield elements;
    last = first;
  }
}

/** Walks a list's framing, noting the file offset where each unit starts. */
function* unitStarts(w: Window, type: number, starts: number[]): Generator<Step, void, void> {
  let n: number;
  while ((n = w.len()) === NEED) yield;
  for (let i = 0; i < n; i++) {
    starts.push(w.offset);
    if (type === 18) while (w.len() === NEED) yield;
    while (!w.skipString()) yield;
  }
}

/**
 * A string's bytes in chunks of `chunk`: a plain string straight from the file window, an LZF one
 * decompressed as it streams (lzfChunks), an integer-encoded one whole.
 */
function* stringChunks(w: Window, chunk: number): Generator<Step, void, void> {
  while (w.pos >= w.end) yield;
  const head = w.buf[w.pos]!;
  if (head >> 6 === 3 && (head & 0x3f) === 3) {
    const at = w.pos;
    let compressed = NEED;
    let plain = NEED;
    for (;;) {
      w.pos = at + 1;
      if ((compressed = w.len()) !== NEED && (plain = w.len()) !== NEED) break;
      w.pos = at;
      yield;
    }
    yield* lzfChunks(w, compressed, plain, chunk);
    return;
  }
  if (head >> 6 === 3) {
    let s: Buffer | null;
    while ((s = w.string()) === null) yield;
    yield [s];
    return;
  }
  let left: number;
  while ((left = w.len()) === NEED) yield;
  while (left > 0) {
    const k = Math.min(left, chunk);
    while (w.end - w.pos < k) yield;
    const piece = w.copyOut(w.pos, w.pos + k);
    w.pos += k;
    left -= k;
    yield [piece];
  }
}

/** LZF's back references reach at most this far back: what the decompressor keeps of its output. */
const LZF_HISTORY = 8192;
/** The most bytes one LZF instruction reads: a control byte and a literal run of 32. */
const LZF_LONGEST = 33;

/**
 * LZF decompressed as its input streams (the format of lzf.ts, instruction by instruction), in chunks
 * of `chunk` bytes of output, keeping only the last LZF_HISTORY bytes that back references may need:
 * a 500 MB compressed string passes through a few MB.
 */
function* lzfChunks(
  w: Window,
  compressed: number,
  plain: number,
  chunk: number,
): Generator<Step, void, void> {
  const corrupt = (): UnsupportedPayloadError =>
    new UnsupportedPayloadError(`corrupt LZF data at byte ${w.offset}`);
  const out = Buffer.allocUnsafe(LZF_HISTORY + chunk + 300);
  let op = 0;
  let emitted = 0;
  let produced = 0;
  for (let left = compressed; left > 0; ) {
    while (w.end - w.pos < Math.min(left, LZF_LONGEST)) yield;
    const buf = w.buf;
    let ip = w.pos;
    const ctrl = buf[ip++]!;
    if (ctrl < 32) {
      const run = ctrl + 1;
      if (run + 1 > left) throw corrupt();
      buf.copy(out, op, ip, ip + run);
      op += run;
      ip += run;
    } else {
      let len = ctrl >> 5;
      if (len === 7) len += buf[ip++]!;
      const ref = op - ((ctrl & 0x1f) << 8) - 1 - buf[ip++]!;
      len += 2;
      if (ref < 0 || ip - w.pos > left) throw corrupt();
      // Byte by byte: a back reference may overlap what it writes (a repeated run).
      for (let i = 0; i < len; i++) out[op++] = out[ref + i]!;
    }
    left -= ip - w.pos;
    w.pos = ip;
    if (op - emitted >= chunk || left === 0) {
      produced += op - emitted;
      if (produced > plain) throw corrupt();
      if (op > emitted) yield [Buffer.from(out.subarray(emitted, op))];
      // Keep the history at the front; the buffer is never outgrown (a chunk, the history, one instruction).
      const keep = Math.min(op, LZF_HISTORY);
      out.copy(out, 0, op - keep, op);
      op = emitted = keep;
    }
  }
  if (produced !== plain) throw corrupt();
}

/** A fixed field of n bytes, or null when not all in the window. */
function fixed(w: Window, n: number): Buffer | null {
  if (w.end - w.pos < n) return null;
  const out = w.copyOut(w.pos, w.pos + n);
  w.pos += n;
  return out;
}

/** ZSET (type 3)'s score: a length byte (253–255: nan, +inf, −inf) then the number as text; null: refill. */
function textDouble(w: Window): number | null {
  if (w.pos >= w.end) return null;
  const len = w.buf[w.pos]!;
  if (len >= 253) {
    w.pos++;
    return len === 253 ? Number.NaN : len === 254 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }
  if (w.end - w.pos < 1 + len) return null;
  const text = w.buf.toString('latin1', w.pos + 1, w.pos + 1 + len);
  w.pos += 1 + len;
  return Number(text);
}

function binaryDouble(w: Window): number | null {
  if (w.end - w.pos < 8) return null;
  const score = w.buf.readDoubleLE(w.pos);
  w.pos += 8;
  return score;
}
