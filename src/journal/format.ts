import { crc32 } from 'node:zlib';
import {
  compactSize,
  isAbsentBefore,
  isCompact,
  type NamedStep,
  readCompact,
  stepListSize,
  stepSize,
  writeCompact,
  writeStepList,
} from './compact.js';
import type { JournalRecord, PriorState } from './types.js';

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

/** One frame to be written: its body's size and form, and how many records it holds. */
type PlannedFrame =
  | { form: 'steps'; size: number; count: number; run: boolean; source: number; steps: NamedStep[] }
  | { form: 'compact'; size: number; count: 1; record: JournalRecord }
  | { form: 'json'; size: number; count: 1; json: string };

/**
 * The frames of `records` in one buffer, and each record's frame offset in it. Consecutive absent
 * befores of one source share a frame (a run: what a reader of format 3 reads).
 */
export function encodeFrames(records: readonly JournalRecord[]): { data: Buffer; offsets: number[] } {
  const planned: PlannedFrame[] = [];
  let total = 0;
  for (let i = 0; i < records.length; ) {
    const frame = planFrame(records, i);
    i += frame.count;
    planned.push(frame);
    total += FRAME_HEAD + frame.size;
  }
  const data = Buffer.allocUnsafe(total);
  const offsets: number[] = [];
  let at = 0;
  for (const frame of planned) {
    if (frame.form === 'steps') {
      const { run, source, steps } = frame;
      writeStepList(run, source, steps, 0, steps.length, data, at + FRAME_HEAD);
    } else if (frame.form === 'compact') writeCompact(frame.record, data, at + FRAME_HEAD);
    else data.write(frame.json, at + FRAME_HEAD);
    for (let n = 0; n < frame.count; n++) offsets.push(at);
    at = closeFrame(data, at, frame.size);
  }
  return { data, offsets };
}

/** Writes the head of the frame at `at` whose body (of `size` bytes) is in place; returns its end. */
function closeFrame(data: Buffer, at: number, size: number): number {
  const body = at + FRAME_HEAD;
  data.writeUInt32LE(size, at);
  data.writeUInt32LE(crc32(data.subarray(body, body + size)), at + 4);
  return body + size;
}

/** The frame that begins with records[from]: a run of absent befores where two or more follow. */
function planFrame(records: readonly JournalRecord[], from: number): PlannedFrame {
  const record = records[from]!;
  if (isAbsentBefore(record)) {
    const run: NamedStep[] = [{ name: record.key, type: record.type }];
    let steps = stepSize(record.key, record.type);
    for (let i = from + 1; i < records.length && steps < RUN_BYTES; i++) {
      const next = records[i]!;
      if (!isAbsentBefore(next) || next.source !== record.source) break;
      run.push({ name: next.key, type: next.type });
      steps += stepSize(next.key, next.type);
    }
    if (run.length > 1) {
      const size = stepListSize(steps);
      return { form: 'steps', size, count: run.length, run: true, source: record.source, steps: run };
    }
  }
  if (record.kind === 'applied') {
    const steps = record.steps.map(([name, type]): NamedStep => ({ name, type }));
    const size = stepListSize(steps.reduce((sum, s) => sum + stepSize(s.name, s.type), 0));
    return { form: 'steps', size, count: 1, run: false, source: record.source, steps };
  }
  const compact = compactSize(record);
  if (compact !== undefined) return { form: 'compact', size: compact, count: 1, record };
  const json = JSON.stringify(jsonable(record));
  return { form: 'json', size: Buffer.byteLength(json), count: 1, json };
}

/** The prior of a create that cannot overwrite (read only). */
const ABSENT: PriorState = Object.freeze({ kind: 'absent' });

/**
 * The `before` frames of one source's steps, for the writer's door: each stretch of steps whose prior
 * is a plain absent key (`priors[i]` undefined, or read as absent) is one ABSENT_RUN frame written
 * straight from the steps, every other step's record a frame of its own. A copy's batch, whose steps
 * are all absent, makes no object per key here.
 */
export function encodeBefores(
  source: number,
  steps: readonly NamedStep[],
  priors: readonly (PriorState | undefined)[],
): Buffer {
  const runs = (i: number): boolean => {
    const prior = priors[i];
    return prior === undefined || (prior.kind === 'absent' && prior.expireAt === undefined);
  };
  const frames: { from: number; to: number; size: number; other?: PlannedFrame }[] = [];
  let total = 0;
  for (let i = 0; i < steps.length; ) {
    let bytes = 0;
    let to = i;
    for (; to < steps.length && runs(to) && bytes < RUN_BYTES; to++) {
      bytes += stepSize(steps[to]!.name, steps[to]!.type);
    }
    let frame: (typeof frames)[number];
    // A step alone is a frame of its own, as encodeFrames writes it: the same bytes either way.
    if (to - i > 1) frame = { from: i, to, size: stepListSize(bytes) };
    else {
      const { name: key, type } = steps[i]!;
      const other = planFrame([{ kind: 'before', source, key, type, prior: priors[i] ?? ABSENT }], 0);
      frame = { from: i, to: i + 1, size: other.size, other };
    }
    frames.push(frame);
    total += FRAME_HEAD + frame.size;
    i = frame.to;
  }
  const data = Buffer.allocUnsafe(total);
  let at = 0;
  for (const { from, to, size, other } of frames) {
    if (!other) writeStepList(true, source, steps, from, to, data, at + FRAME_HEAD);
    else if (other.form === 'compact') writeCompact(other.record, data, at + FRAME_HEAD);
    else if (other.form === 'json') data.write(other.json, at + FRAME_HEAD);
    at = closeFrame(data, at, size);
  }
  return data;
}

/** The `applied` frame of one source's steps, for the writer's door: written straight from the steps. */
export function encodeApplied(source: number, steps: readonly NamedStep[]): Buffer {
  let bytes = 0;
  for (let i = 0; i < steps.length; i++) bytes += stepSize(steps[i]!.name, steps[i]!.type);
  const size = stepListSize(bytes);
  const data = Buffer.allocUnsafe(FRAME_HEAD + size);
  writeStepList(false, source, steps, 0, steps.length, data, FRAME_HEAD);
  closeFrame(data, 0, size);
  return data;
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
