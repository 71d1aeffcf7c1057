import { crc32 } from 'node:zlib';
import { compactSize, isCompact, readCompact, writeCompact } from './compact.js';
import type { PriorState } from './types.js';

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

/** The first record: which run, plan and target the journal belongs to. Never holds a password. */
export interface JournalHeader {
  kind: 'header';
  format: number;
  tool: 'kvmerge';
  version: string;
  /** The target URL, password redacted. */
  target: string;
  /** sha256 of what decides the fold's result (sources, prefixes, matches, strategies, merge options). */
  planDigest: string;
  runId: string;
  startedAt: string;
  /**
   * The target holds several types under one name (Pika 3.x): each `before` record's prior is of its
   * step's type alone, and is put back without touching the name's other types. Absent elsewhere.
   */
  typedPriors?: boolean;
}

export type JournalRecord =
  | JournalHeader
  /** Written and made durable before step (source, key, type) sends anything: the key's state then. */
  | { kind: 'before'; source: number; key: Buffer; type: string; prior: PriorState }
  /**
   * One window of a big key's prior state (PriorState 'windows' names it by its offset). A hash's
   * window on a server with field TTLs (Redis 7.4+) has each field's absolute expiry in ms, -1 for
   * none, where any field of it has one.
   */
  | { kind: 'window'; key: Buffer; items: Buffer[]; fieldExpiries?: number[] }
  /** A temporary key is about to be created (a big key built aside): resume and rollback delete it. */
  | { kind: 'temp'; key: Buffer }
  /** The steps' replies came and say they were applied. Not synced: a lost one only means a redo. */
  | { kind: 'applied'; source: number; steps: [Buffer, string][] }
  /** Every step of the source was settled. */
  | { kind: 'sourceDone'; source: number }
  /** Resume began: the interrupted run's unsettled steps were put back (informational). */
  | { kind: 'resumed'; at: string }
  /**
   * A resume applied these keys again from their first prior, through every finished source (keys
   * whose step failed, under --on-error skip): they are no longer failed, unless a step of it failed
   * again (a step of a finished source left unsettled).
   */
  | { kind: 'retried'; keys: Buffer[] }
  /**
   * A rollback began (durable before its first write): the run can no longer be resumed, since the keys
   * its journal marks applied may have been put back.
   */
  | { kind: 'rollback'; at: string }
  /**
   * The run completed: every source's every step applied (SPEC §6.3). Its last record, so that the
   * state directory's lookup (state-dir.ts) reads it from the file's tail. Readers of format 2 that
   * predate it skip it like any record they do not use.
   */
  | { kind: 'done'; at: string };

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
