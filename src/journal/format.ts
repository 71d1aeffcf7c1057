import { crc32 } from 'node:zlib';
import { compactSize, isCompact, readCompact, writeCompact } from './compact.js';
import type { JournalRecord } from './types.js';

/**
 * The journal file (SPEC §6.2): a magic line, then frames, each `[u32 length][u32 crc32][body]`
 * (little-endian). Append-only: a crash can only tear the last frame, which a reader detects (short
 * or wrong checksum) and ignores.
 *
 * A body is one record. The records written for every small key of a run have a binary form (compact.ts
 * says why and how), told by a first byte below 0x20; any other record is JSON (it starts with `{`),
 * byte strings as `{"$b": base64}`.
 */
export const MAGIC = Buffer.from('kvmerge-journal\n');
/** 2: the binary records of compact.ts beside JSON ones. A reader of 2 reads format 1 too. */
export const FORMAT_VERSION = 2;
/** The formats this kvmerge reads. */
export const READABLE_FORMATS: readonly number[] = [1, 2];
const FRAME_HEAD = 8;
/** A frame longer than this is corruption, not a record (a DUMP payload is at most proto-max-bulk-len). */
const MAX_FRAME = 1024 * 1024 * 1024;

export function encodeFrame(record: JournalRecord): Buffer {
  const compact = compactSize(record);
  if (compact !== undefined) {
    const frame = Buffer.allocUnsafe(FRAME_HEAD + compact);
    writeCompact(record, frame, FRAME_HEAD);
    return seal(frame);
  }
  const json = JSON.stringify(jsonable(record));
  const frame = Buffer.allocUnsafe(FRAME_HEAD + Buffer.byteLength(json));
  frame.write(json, FRAME_HEAD);
  return seal(frame);
}

/** Writes the frame head (length, checksum of the body) in front of a body written in place. */
function seal(frame: Buffer): Buffer {
  const body = frame.subarray(FRAME_HEAD);
  frame.writeUInt32LE(body.length, 0);
  frame.writeUInt32LE(crc32(body), 4);
  return frame;
}

/**
 * The frame at `offset` of `data`: the record and where the next frame starts, 'short' when the data
 * ends inside it, 'bad' when its length or checksum is wrong (a torn or corrupt frame).
 */
export function decodeFrame(
  data: Buffer,
  offset: number,
): { record: JournalRecord; end: number } | 'short' | 'bad' {
  if (data.length - offset < FRAME_HEAD) return 'short';
  const length = data.readUInt32LE(offset);
  if (length > MAX_FRAME) return 'bad';
  const end = offset + FRAME_HEAD + length;
  if (end > data.length) return 'short';
  const body = data.subarray(offset + FRAME_HEAD, end);
  if (crc32(body) !== data.readUInt32LE(offset + 4)) return 'bad';
  try {
    const record = isCompact(body)
      ? readCompact(body)
      : (JSON.parse(body.toString(), reviver) as JournalRecord | null);
    // A checksum only says the bytes are as written: what was written must still be a record.
    if (typeof record !== 'object' || record === null || typeof record.kind !== 'string') return 'bad';
    return { record, end };
  } catch {
    return 'bad';
  }
}

/** Byte strings as {$b: base64}, infinite scores as {$n: "inf"} (Buffer.toJSON would spell every byte). */
function jsonable(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return { $b: value.toString('base64') };
  if (typeof value === 'number' && !Number.isFinite(value)) return { $n: String(value) };
  if (Array.isArray(value)) return value.map(jsonable);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonable(v);
    return out;
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (typeof o.$b === 'string' && Object.keys(o).length === 1) return Buffer.from(o.$b, 'base64');
    if (typeof o.$n === 'string' && Object.keys(o).length === 1) return Number(o.$n);
  }
  return value;
}
