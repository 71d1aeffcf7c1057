import { UnsupportedPayloadError } from '../rdb/error.js';
import { intset } from '../rdb/intset.js';
import { listpack } from '../rdb/listpack.js';
import { RdbReader } from '../rdb/reader.js';
import { ziplist } from '../rdb/ziplist.js';
import type { NativeType } from '../types/strategy.js';
import type { StreamValue } from '../types/stream/codec.js';
import { formatScore, parseScore } from '../types/zset/codec.js';
import { decodeStream } from './rdb-stream.js';

export { UnsupportedPayloadError };

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

const TRAILER = 10;

export function decodePayload(payload: Buffer): DecodedPayload {
  if (payload.length < TRAILER + 1)
    throw new UnsupportedPayloadError('payload too short to be a DUMP payload');
  const rdbVersion = payload.readUInt16LE(payload.length - TRAILER);
  const r = new RdbReader(payload.subarray(0, payload.length - TRAILER));
  const objectType = r.byte();
  const decoded = decodeObject(objectType, r) as DecodedPayload;
  // Set on the object decodeObject made, not spread into a new one: a merge decodes a payload a key.
  decoded.rdbVersion = rdbVersion;
  return decoded;
}

type Decoded = Omit<DecodedPayload, 'rdbVersion'>;

function decodeObject(objectType: number, r: RdbReader): Decoded {
  switch (objectType) {
    case 0: // STRING
      return { type: 'string', value: r.string() };
    case 1: // LIST (linked list, before 3.2)
      return { type: 'list', value: r.strings(r.length()) };
    case 2: // SET (hashtable)
      return { type: 'set', value: r.strings(r.length()) };
    case 3: // ZSET: member, score as text
      return { type: 'zset', value: zsetPairs(r, () => r.textDouble()) };
    case 4: // HASH (hashtable)
      return { type: 'hash', value: r.strings(r.length() * 2) };
    case 5: // ZSET_2 (skiplist): member, binary double
      return { type: 'zset', value: zsetPairs(r, () => r.binaryDouble()) };
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
      return { type: 'stream', value: decodeStream(r, objectType === 15 ? 1 : objectType === 19 ? 2 : 3) };
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
/** A zset's members with their scores, each read as `score` reads it, as [score, member] pairs (ZADD's order). */
function zsetPairs(r: RdbReader, score: () => number): Buffer[] {
  const n = r.length();
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const member = r.string();
    out.push(formatScore(score()), member);
  }
  return out;
}

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
    const score = flat[i + 1]!;
    // An integer score (the listpack stores it as one) is its own text already: kept, not re-printed.
    out[i] = isIntegerText(score) ? score : formatScore(parseScore(score));
    out[i + 1] = flat[i]!;
  }
  return out;
}

/** Whether `text` is a safe integer as String() prints it: digits, an optional minus, no leading zero. */
function isIntegerText(text: Buffer): boolean {
  const sign = text[0] === 0x2d ? 1 : 0;
  const digits = text.length - sign;
  if (digits < 1 || digits > 15) return false;
  if (text[sign] === 0x30 && (digits > 1 || sign === 1)) return false;
  for (let i = sign; i < text.length; i++) if (text[i]! < 0x30 || text[i]! > 0x39) return false;
  return true;
}
