import type { NativeType } from '../types/strategy.js';
import type { StreamValue } from './native/stream.js';
import { formatScore, parseScore } from './native/zset.js';

/**
 * Decodes a DUMP payload into the native value the codecs use (native/<type>.ts): string → Buffer;
 * hash → [field, value, …]; set → members; zset → [score, member, …] (scores as text parseScore()
 * reads); list → elements in order. Written from the RDB format as Redis's rdb.c, ziplist.c,
 * listpack.c and intset.c describe it, for the payloads of Redis 6.2 (RDB 9), 7.0 (10), Valkey 8.0
 * (11), Redis 7.4 and 8.0 (12).
 *
 * A payload is `<object type byte> <object> <RDB version: 2 bytes LE> <CRC64: 8 bytes LE>`. The
 * checksum is not checked: the payload comes from the server (or from the journal, which has its
 * own integrity), and a corrupt one fails to parse.
 *
 * Hashes with field expirations (HEXPIRE, Redis 7.4+) decode to their fields and values, with each
 * field's absolute expiry beside them in `fieldExpiries`; a field already expired is left out.
 *
 * Refused with an UnsupportedPayloadError that says why: module types, the pre-2.6 zipmap, a format
 * newer than RDB 12.
 */
export interface DecodedPayload {
  type: NativeType;
  value: Buffer | Buffer[] | StreamValue;
  rdbVersion: number;
  /** Hash fields that expire on their own: [field, Unix ms], for a hash with field expirations. */
  fieldExpiries?: [Buffer, number][];
}

export class UnsupportedPayloadError extends Error {}

const TRAILER = 10;

export function decodePayload(payload: Buffer): DecodedPayload {
  if (payload.length < TRAILER + 1)
    throw new UnsupportedPayloadError('payload too short to be a DUMP payload');
  const rdbVersion = payload.readUInt16LE(payload.length - TRAILER);
  const r = new Reader(payload.subarray(0, payload.length - TRAILER));
  const objectType = r.byte();
  const decoded = decodeObject(objectType, r);
  return { ...decoded, rdbVersion };
}

type Decoded = Omit<DecodedPayload, 'rdbVersion'>;

function decodeObject(objectType: number, r: Reader): Decoded {
  switch (objectType) {
    case 0: // STRING
      return { type: 'string', value: r.string() };
    case 1: // LIST (linked list, before 3.2)
      return { type: 'list', value: r.strings(r.length()) };
    case 2: // SET (hashtable)
      return { type: 'set', value: r.strings(r.length()) };
    case 3: {
      // ZSET: member, score as text
      const n = r.length();
      const out: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const member = r.string();
        out.push(formatScore(r.textDouble()), member);
      }
      return { type: 'zset', value: out };
    }
    case 4: // HASH (hashtable)
      return { type: 'hash', value: r.strings(r.length() * 2) };
    case 5: {
      // ZSET_2 (skiplist): member, binary double
      const n = r.length();
      const out: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const member = r.string();
        out.push(formatScore(r.binaryDouble()), member);
      }
      return { type: 'zset', value: out };
    }
    case 10: // LIST_ZIPLIST
      return { type: 'list', value: ziplist(r.string()) };
    case 11: // SET_INTSET
      return { type: 'set', value: intset(r.string()) };
    case 12: // ZSET_ZIPLIST: member, score, …
      return { type: 'zset', value: scoreFirst(ziplist(r.string())) };
    case 13: // HASH_ZIPLIST
      return { type: 'hash', value: ziplist(r.string()) };
    case 14: {
      // LIST_QUICKLIST: nodes of ziplists (each possibly LZF-compressed, which string() undoes)
      const nodes = r.length();
      const out: Buffer[] = [];
      for (let i = 0; i < nodes; i++) out.push(...ziplist(r.string()));
      return { type: 'list', value: out };
    }
    case 16: // HASH_LISTPACK
      return { type: 'hash', value: listpack(r.string()) };
    case 17: // ZSET_LISTPACK
      return { type: 'zset', value: scoreFirst(listpack(r.string())) };
    case 18: {
      // LIST_QUICKLIST_2: per node a container (1 plain: one element as is; 2 packed: a listpack)
      const nodes = r.length();
      const out: Buffer[] = [];
      for (let i = 0; i < nodes; i++) {
        const container = r.length();
        const data = r.string();
        if (container === 1) out.push(data);
        else out.push(...listpack(data));
      }
      return { type: 'list', value: out };
    }
    case 20: // SET_LISTPACK
      return { type: 'set', value: listpack(r.string()) };
    case 15: // STREAM_LISTPACKS (Redis 5, 6.2)
    case 19: // STREAM_LISTPACKS_2 (7.0: first id, max deleted id, entries added; group entries read)
    case 21: // STREAM_LISTPACKS_3 (7.2: consumers' active time)
      return { type: 'stream', value: stream(r, objectType === 15 ? 1 : objectType === 19 ? 2 : 3) };
    case 26:
      throw new UnsupportedPayloadError('a stream of a newer RDB format (type 26) is not decoded');
    case 6:
    case 7:
      throw new UnsupportedPayloadError('a module type (not one of the six Redis types) cannot be decoded');
    case 9:
      throw new UnsupportedPayloadError('a zipmap hash (RDB before Redis 2.6) is not decoded');
    case 22: // HASH_METADATA_PRE_GA: per field an absolute expiry (0: none), field, value
    case 24: {
      // HASH_METADATA: the earliest field expiry, then per field an expiry relative to it (+1; 0: none)
      const base = objectType === 24 ? Number(r.take(8).readBigUInt64LE(0)) : 0;
      const n = r.length();
      const triplets: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const ttl = r.length();
        const expireAt = ttl === 0 ? 0 : objectType === 24 ? ttl + base - 1 : ttl;
        triplets.push(r.string(), r.string(), Buffer.from(String(expireAt)));
      }
      return hashWithExpiries(triplets);
    }
    case 23: // HASH_LISTPACK_EX_PRE_GA: a listpack of field, value, expiry (0: none)
    case 25: // HASH_LISTPACK_EX: the earliest field expiry, then that listpack
      if (objectType === 25) r.take(8);
      return hashWithExpiries(listpack(r.string()));
    default:
      throw new UnsupportedPayloadError(`unknown RDB object type ${objectType}`);
  }
}

/**
 * A hash from field, value, expiry (Unix ms; 0: none) triplets: the live fields and values, and the
 * expiries of the fields that have one. A field whose expiry has passed is gone, as it is for HGETALL.
 */
function hashWithExpiries(triplets: Buffer[]): Decoded {
  const value: Buffer[] = [];
  const fieldExpiries: [Buffer, number][] = [];
  const now = Date.now();
  for (let i = 0; i < triplets.length; i += 3) {
    const expireAt = Number(triplets[i + 2]!.toString());
    if (expireAt !== 0 && expireAt <= now) continue;
    value.push(triplets[i]!, triplets[i + 1]!);
    if (expireAt !== 0) fieldExpiries.push([triplets[i]!, expireAt]);
  }
  return { type: 'hash', value, fieldExpiries };
}

/** [member, score, …] (ziplist/listpack order) → [score, member, …] (the zset codec's order). */
function scoreFirst(flat: Buffer[]): Buffer[] {
  const out: Buffer[] = new Array(flat.length);
  for (let i = 0; i < flat.length; i += 2) {
    out[i] = formatScore(parseScore(flat[i + 1]!));
    out[i + 1] = flat[i]!;
  }
  return out;
}

/**
 * A stream: its listpack nodes, each keyed by its master id (16 bytes: ms, seq, big-endian), then
 * the length and last id, (v2+) first id, max deleted id and entries added, then the consumer groups
 * with their pending entries and consumers, of which only each group's name and last-delivered id
 * are kept (what the stream codec carries).
 *
 * A node's listpack starts with a master entry (count, deleted, the master fields, 0); each entry
 * then is flags, ms and seq as differences from the master id, the values alone when the entry has
 * the master's fields (flag 2) or else the field count and the pairs, and its own element count.
 * Deleted entries (flag 1) stay in the node until it is rewritten, and are skipped.
 */
function stream(r: Reader, version: 1 | 2 | 3): StreamValue {
  const entries: [Buffer, Buffer[]][] = [];
  const nodes = r.length();
  for (let n = 0; n < nodes; n++) {
    const master = r.string();
    if (master.length !== 16) throw new UnsupportedPayloadError('bad stream node key');
    const baseMs = master.readBigUInt64BE(0);
    const baseSeq = master.readBigUInt64BE(8);
    const lp = listpack(r.string());
    let at = 0;
    const next = (): Buffer => {
      const item = lp[at++];
      if (item === undefined) throw new UnsupportedPayloadError('stream node ends early');
      return item;
    };
    const int = (): bigint => BigInt(next().toString());
    const count = Number(int()) + Number(int()); // live + deleted entries
    const masterFields = Array.from({ length: Number(int()) }, next);
    next(); // the master entry's terminator
    for (let e = 0; e < count; e++) {
      const flags = Number(int());
      const id = `${baseMs + int()}-${baseSeq + int()}`;
      const fields: Buffer[] = [];
      if (flags & 2) for (const field of masterFields) fields.push(field, next());
      else for (let f = Number(int()); f > 0; f--) fields.push(next(), next());
      next(); // the entry's element count (for walking backwards)
      if (!(flags & 1)) entries.push([Buffer.from(id), fields]);
    }
  }
  r.length(); // length
  const lastId = Buffer.from(`${r.length()}-${r.length()}`);
  if (version >= 2) {
    for (let i = 0; i < 5; i++) r.length(); // first id, max deleted id, entries added
  }
  const groups: [Buffer, Buffer][] = [];
  const groupCount = r.length();
  for (let g = 0; g < groupCount; g++) {
    const name = r.string();
    const delivered = Buffer.from(`${r.length()}-${r.length()}`);
    if (version >= 2) r.length(); // entries read
    const pending = r.length();
    for (let p = 0; p < pending; p++) {
      r.take(16 + 8); // id, delivery time
      r.length(); // delivery count
    }
    const consumers = r.length();
    for (let c = 0; c < consumers; c++) {
      r.string(); // name
      r.take(version >= 3 ? 16 : 8); // seen time (and active time)
      r.take(16 * r.length()); // the consumer's pending ids
    }
    groups.push([name, delivered]);
  }
  return { entries, lastId, groups };
}

/** A cursor over RDB bytes: lengths, strings (plain, integer-encoded, LZF) and doubles. */
class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  byte(): number {
    if (this.at >= this.buf.length) throw new UnsupportedPayloadError('payload ends early');
    return this.buf[this.at++]!;
  }

  take(n: number): Buffer {
    if (this.at + n > this.buf.length) throw new UnsupportedPayloadError('payload ends early');
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** A length, or for a string, { encoded: kind } when the top bits say a special encoding follows. */
  private lengthOrEncoding(): { len: number } | { encoded: number } {
    const first = this.byte();
    switch (first >> 6) {
      case 0:
        return { len: first & 0x3f };
      case 1:
        return { len: ((first & 0x3f) << 8) | this.byte() };
      case 2:
        if (first === 0x80) return { len: this.take(4).readUInt32BE(0) };
        if (first === 0x81) return { len: Number(this.take(8).readBigUInt64BE(0)) };
        throw new UnsupportedPayloadError(`bad length byte 0x${first.toString(16)}`);
      default:
        return { encoded: first & 0x3f };
    }
  }

  length(): number {
    const l = this.lengthOrEncoding();
    if ('encoded' in l) throw new UnsupportedPayloadError('an encoded string where a length belongs');
    return l.len;
  }

  string(): Buffer {
    const l = this.lengthOrEncoding();
    if ('len' in l) return this.take(l.len);
    switch (l.encoded) {
      case 0:
        return Buffer.from(String(this.take(1).readInt8(0)));
      case 1:
        return Buffer.from(String(this.take(2).readInt16LE(0)));
      case 2:
        return Buffer.from(String(this.take(4).readInt32LE(0)));
      case 3: {
        const compressed = this.length();
        const plain = this.length();
        return lzfDecompress(this.take(compressed), plain);
      }
      default:
        throw new UnsupportedPayloadError(`unknown string encoding ${l.encoded}`);
    }
  }

  strings(n: number): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++) out.push(this.string());
    return out;
  }

  /** RDB_TYPE_ZSET's score: a length byte (253 nan, 254 +inf, 255 -inf) then the number as text. */
  textDouble(): number {
    const len = this.byte();
    if (len === 253) return Number.NaN;
    if (len === 254) return Number.POSITIVE_INFINITY;
    if (len === 255) return Number.NEGATIVE_INFINITY;
    return Number(this.take(len).toString('latin1'));
  }

  binaryDouble(): number {
    return this.take(8).readDoubleLE(0);
  }
}

/** LZF (liblzf's format, as Redis compresses long strings and quicklist nodes). */
export function lzfDecompress(input: Buffer, plainLength: number): Buffer {
  const out = Buffer.alloc(plainLength);
  let ip = 0;
  let op = 0;
  while (ip < input.length) {
    const ctrl = input[ip++]!;
    if (ctrl < 32) {
      const run = ctrl + 1;
      if (op + run > plainLength || ip + run > input.length)
        throw new UnsupportedPayloadError('corrupt LZF data');
      input.copy(out, op, ip, ip + run);
      op += run;
      ip += run;
    } else {
      let len = ctrl >> 5;
      if (len === 7) len += input[ip++]!;
      const ref = op - ((ctrl & 0x1f) << 8) - 1 - input[ip++]!;
      len += 2;
      if (ref < 0 || op + len > plainLength) throw new UnsupportedPayloadError('corrupt LZF data');
      // Byte by byte: a back reference may overlap what it writes (a repeated run).
      for (let i = 0; i < len; i++) out[op++] = out[ref + i]!;
    }
  }
  if (op !== plainLength) throw new UnsupportedPayloadError('corrupt LZF data');
  return out;
}

/** An intset: encoding (2, 4 or 8 bytes per element), count, then the integers, little-endian. */
function intset(blob: Buffer): Buffer[] {
  const width = blob.readUInt32LE(0);
  const count = blob.readUInt32LE(4);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const at = 8 + i * width;
    if (width === 2) out.push(Buffer.from(String(blob.readInt16LE(at))));
    else if (width === 4) out.push(Buffer.from(String(blob.readInt32LE(at))));
    else if (width === 8) out.push(Buffer.from(String(blob.readBigInt64LE(at))));
    else throw new UnsupportedPayloadError(`bad intset width ${width}`);
  }
  return out;
}

/**
 * A ziplist: zlbytes (4), zltail (4), zllen (2), entries, 0xff. Each entry: the previous entry's
 * length (1 byte, or 0xfe and 4 bytes), an encoding, the data.
 */
function ziplist(blob: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 10;
  while (at < blob.length && blob[at] !== 0xff) {
    at += blob[at] === 0xfe ? 5 : 1;
    const enc = blob[at]!;
    if (enc >> 6 === 0) {
      const len = enc & 0x3f;
      out.push(blob.subarray(at + 1, at + 1 + len));
      at += 1 + len;
    } else if (enc >> 6 === 1) {
      const len = ((enc & 0x3f) << 8) | blob[at + 1]!;
      out.push(blob.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    } else if (enc >> 6 === 2) {
      const len = blob.readUInt32BE(at + 1);
      out.push(blob.subarray(at + 5, at + 5 + len));
      at += 5 + len;
    } else {
      at += 1;
      let n: number | bigint;
      switch (enc) {
        case 0xc0:
          n = blob.readInt16LE(at);
          at += 2;
          break;
        case 0xd0:
          n = blob.readInt32LE(at);
          at += 4;
          break;
        case 0xe0:
          n = blob.readBigInt64LE(at);
          at += 8;
          break;
        case 0xf0:
          n = blob.readIntLE(at, 3);
          at += 3;
          break;
        case 0xfe:
          n = blob.readInt8(at);
          at += 1;
          break;
        default:
          if (enc > 0xf0 && enc < 0xfe) n = (enc & 0x0f) - 1;
          else throw new UnsupportedPayloadError(`bad ziplist encoding 0x${enc.toString(16)}`);
      }
      out.push(Buffer.from(String(n)));
    }
  }
  return out;
}

/**
 * A listpack: total bytes (4), count (2), entries, 0xff. Each entry: an encoding (small integers
 * and short string lengths inside it), the data, and its own length backwards (1 to 5 bytes).
 */
function listpack(blob: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 6;
  while (at < blob.length && blob[at] !== 0xff) {
    const start = at;
    const enc = blob[at]!;
    if (enc >> 7 === 0) {
      out.push(Buffer.from(String(enc & 0x7f)));
      at += 1;
    } else if (enc >> 6 === 2) {
      const len = enc & 0x3f;
      out.push(blob.subarray(at + 1, at + 1 + len));
      at += 1 + len;
    } else if (enc >> 5 === 6) {
      const raw = ((enc & 0x1f) << 8) | blob[at + 1]!;
      out.push(Buffer.from(String(raw >= 1 << 12 ? raw - (1 << 13) : raw)));
      at += 2;
    } else if (enc >> 4 === 14) {
      const len = ((enc & 0x0f) << 8) | blob[at + 1]!;
      out.push(blob.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    } else {
      switch (enc) {
        case 0xf0: {
          const len = blob.readUInt32LE(at + 1);
          out.push(blob.subarray(at + 5, at + 5 + len));
          at += 5 + len;
          break;
        }
        case 0xf1:
          out.push(Buffer.from(String(blob.readInt16LE(at + 1))));
          at += 3;
          break;
        case 0xf2:
          out.push(Buffer.from(String(blob.readIntLE(at + 1, 3))));
          at += 4;
          break;
        case 0xf3:
          out.push(Buffer.from(String(blob.readInt32LE(at + 1))));
          at += 5;
          break;
        case 0xf4:
          out.push(Buffer.from(String(blob.readBigInt64LE(at + 1))));
          at += 9;
          break;
        default:
          throw new UnsupportedPayloadError(`bad listpack encoding 0x${enc.toString(16)}`);
      }
    }
    at += backlenSize(at - start);
  }
  return out;
}

/** Bytes the backward length of an entry of `len` bytes takes (7 bits per byte). */
function backlenSize(len: number): number {
  return len < 128 ? 1 : len < 16384 ? 2 : len < 2097152 ? 3 : len < 268435456 ? 4 : 5;
}
