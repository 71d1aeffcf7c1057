import { crc32 } from 'node:zlib';
import {
  absentRunSize,
  compactSize,
  isAbsentBefore,
  isCompact,
  readCompact,
  stepSize,
  writeAbsentRun,
  writeCompact,
} from './compact.js';
import type { JournalRecord } from './types.js';

/**
 * The journal file (SPEC §6.2): a magic line, then frames, each `[u32 length][u32 crc32][body]`
 * (little-endian). Append-only: a crash can only tear the last frame, which a reader detects (short
 * or wrong checksum) and ignores.
 *
 * A body is one record, or a run of `before` records of absent keys (compact.ts). The records written
 * for every small key of a run have a binary form (compact.ts says why and how), told by a first byte
 * below 0x20; any other record is JSON (it starts with `{`), byte strings as `{"$b": base64}`.
 */
export const MAGIC = Buffer.from('kvmerge-journal\n');
/**
 * 2: the binary records of compact.ts beside JSON ones. 3: runs of absent befores in one frame. A
 * reader of 3 reads 1 and 2 too.
 */
export const FORMAT_VERSION = 3;
/** The formats this kvmerge reads. */
export const READABLE_FORMATS: readonly number[] = [1, 2, 3];
const FRAME_HEAD = 8;
/** A frame longer than this is corruption, not a record (a DUMP payload is at most proto-max-bulk-len). */
const MAX_FRAME = 1024 * 1024 * 1024;
/** A run of absent befores is cut at this body size (a batch of small keys is far below it). */
const RUN_BYTES = 1024 * 1024;

/** One record's frame. */
export function encodeFrame(record: JournalRecord): Buffer {
  return encodeFrames([record]).data;
}

/** One frame to be written: its body's size and form, and the records it holds. */
type PlannedFrame =
  | { form: 'run'; size: number; records: Extract<JournalRecord, { kind: 'before' }>[] }
  | { form: 'compact'; size: number; records: [JournalRecord] }
  | { form: 'json'; size: number; records: [JournalRecord]; json: string };

/**
 * The frames of `records` in one buffer, and each record's frame offset in it. Consecutive absent
 * befores of one source share a frame (a run: what a reader of format 3 reads).
 */
export function encodeFrames(records: readonly JournalRecord[]): { data: Buffer; offsets: number[] } {
  const planned: PlannedFrame[] = [];
  let total = 0;
  for (let i = 0; i < records.length; ) {
    const frame = planFrame(records, i);
    i += frame.records.length;
    planned.push(frame);
    total += FRAME_HEAD + frame.size;
  }
  const data = Buffer.allocUnsafe(total);
  const offsets: number[] = [];
  let at = 0;
  for (const frame of planned) {
    const body = at + FRAME_HEAD;
    if (frame.form === 'run') writeAbsentRun(frame.records, data, body);
    else if (frame.form === 'compact') writeCompact(frame.records[0], data, body);
    else data.write(frame.json, body);
    data.writeUInt32LE(frame.size, at);
    data.writeUInt32LE(crc32(data.subarray(body, body + frame.size)), at + 4);
    for (let n = 0; n < frame.records.length; n++) offsets.push(at);
    at = body + frame.size;
  }
  return { data, offsets };
}

/** The frame that begins with records[from]: a run of absent befores where two or more follow. */
function planFrame(records: readonly JournalRecord[], from: number): PlannedFrame {
  const record = records[from]!;
  if (isAbsentBefore(record)) {
    const run = [record];
    let steps = stepSize(record.key, record.type);
    for (let i = from + 1; i < records.length && steps < RUN_BYTES; i++) {
      const next = records[i]!;
      if (!isAbsentBefore(next) || next.source !== record.source) break;
      run.push(next);
      steps += stepSize(next.key, next.type);
    }
    if (run.length > 1) return { form: 'run', size: absentRunSize(steps), records: run };
  }
  const compact = compactSize(record);
  if (compact !== undefined) return { form: 'compact', size: compact, records: [record] };
  const json = JSON.stringify(jsonable(record));
  return { form: 'json', size: Buffer.byteLength(json), records: [record], json };
}

/**
 * The frame at `offset` of `data`: the record and where the next frame starts, 'short' when the data
 * ends inside it, 'bad' when its length or checksum is wrong (a torn or corrupt frame).
 */
export function decodeFrame(
  data: Buffer,
  offset: number,
): { records: JournalRecord[]; end: number } | 'short' | 'bad' {
  if (data.length - offset < FRAME_HEAD) return 'short';
  const length = data.readUInt32LE(offset);
  if (length > MAX_FRAME) return 'bad';
  const end = offset + FRAME_HEAD + length;
  if (end > data.length) return 'short';
  const body = data.subarray(offset + FRAME_HEAD, end);
  if (crc32(body) !== data.readUInt32LE(offset + 4)) return 'bad';
  try {
    if (isCompact(body)) return { records: readCompact(body), end };
    const record = JSON.parse(body.toString(), reviver) as JournalRecord | null;
    // A checksum only says the bytes are as written: what was written must still be a record.
    if (typeof record !== 'object' || record === null || typeof record.kind !== 'string') return 'bad';
    return { records: [record], end };
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
