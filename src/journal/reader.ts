import { type FileHandle, open } from 'node:fs/promises';
import { ConfigError } from '../common/errors.js';
import { isSameDatabase, parseRedisUrl, redactUrl } from '../config/url.js';
import { decodeFrame, MAGIC, READABLE_FORMATS } from './format.js';
import type { JournaledKey, JournalHeader, JournalRecord } from './types.js';

export type { JournalHeader } from './types.js';

const CHUNK = 1024 * 1024;

/** What a pass over the journal found beside its records. */
export interface ScanEnd {
  /** Bytes of whole, valid frames (with the magic line): where the next record is to be appended. */
  validBytes: number;
  /** The file went on after the last valid frame: a record torn by a crash, ignored. */
  torn: boolean;
}

/**
 * The records of a journal, in order, read a chunk at a time (the file can be large: it holds DUMP
 * payloads). Stops at the first frame that is short or fails its checksum: a record torn by a crash.
 * A crash tears only the end of the file, so when whole records follow that frame the journal was
 * damaged after the run, and reading it stops with exit 2 rather than ignore what follows (a rollback
 * would leave those keys changed). `end` is filled in when the iteration is over.
 */
export async function* readRecords(path: string, end?: ScanEnd): AsyncGenerator<JournalRecord> {
  for await (const { record } of readFrames(path, end)) yield record;
}

/** readRecords, with each record's byte offset in the file (for readAt). */
export async function* readFrames(
  path: string,
  end?: ScanEnd,
): AsyncGenerator<{ record: JournalRecord; at: number }> {
  const file = await openOrExplain(path);
  try {
    let data = Buffer.alloc(0);
    let position = 0;
    let offset = 0;
    let consumed = 0;
    let eof = false;
    const fill = async (): Promise<void> => {
      const chunk = Buffer.alloc(Math.max(CHUNK, data.length - offset));
      const { bytesRead } = await file.read(chunk, 0, chunk.length, position);
      position += bytesRead;
      if (bytesRead === 0) eof = true;
      data = Buffer.concat([data.subarray(offset), chunk.subarray(0, bytesRead)]);
      offset = 0;
    };
    while (data.length < MAGIC.length && !eof) await fill();
    if (!data.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new ConfigError(
        '--backup',
        `${path} is not a kvmerge journal; give the file that --backup wrote`,
      );
    }
    offset = MAGIC.length;
    consumed = MAGIC.length;
    let torn = false;
    for (;;) {
      const frame = decodeFrame(data, offset);
      if (frame === 'short' && !eof) {
        await fill();
        continue;
      }
      if (frame === 'short' || frame === 'bad') {
        torn = offset < data.length;
        if (torn) await refuseDamage(file, path, consumed);
        break;
      }
      const at = consumed;
      consumed += frame.end - offset;
      offset = frame.end;
      // A run of absent befores (format 3) is one frame: each of its records is at the frame's offset.
      for (const record of frame.records) yield { record, at };
    }
    if (end) {
      end.validBytes = consumed;
      end.torn = torn;
    }
  } finally {
    await file.close();
  }
}

/** How far past a bad frame a whole record is looked for; one record is at most this long too. */
const DAMAGE_SCAN_RECORD = 1024 * 1024;

/**
 * A bad frame at `at` ends a journal torn by a crash; one followed by a whole record (length, matching
 * checksum, a body that decodes) is damage in the middle: exit 2, naming where. The search tries every
 * byte after `at` (a corrupt length hides where the next frame starts) and stops at the first record.
 */
async function refuseDamage(file: FileHandle, path: string, at: number): Promise<void> {
  const size = (await file.stat()).size;
  const window = Buffer.alloc(4 * DAMAGE_SCAN_RECORD);
  for (let from = at + 1; from < size; from += window.length - DAMAGE_SCAN_RECORD) {
    const { bytesRead } = await file.read(window, 0, window.length, from);
    const data = window.subarray(0, bytesRead);
    const last = bytesRead < window.length ? bytesRead : window.length - DAMAGE_SCAN_RECORD;
    for (let i = 0; i < last; i++) {
      const frame = decodeFrame(data, i);
      if (typeof frame === 'string') continue;
      throw new ConfigError(
        '--backup',
        `${path} is damaged: the record at byte ${at} fails its checksum and whole records follow it (byte ${from + i}), so it was changed after the run; use an intact copy (if a power loss cut the run, what follows byte ${at} was never synced: cut it off with truncate -s ${at})`,
      );
    }
    if (bytesRead < window.length) return;
  }
}

async function openOrExplain(path: string) {
  try {
    const file = await open(path, 'r');
    // open() takes a directory; only its read would fail (EISDIR).
    if (!(await file.stat()).isFile()) {
      await file.close();
      throw Object.assign(new Error('not a file'), { code: 'not a file' });
    }
    return file;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message);
    throw new ConfigError(
      '--backup',
      `cannot read the journal ${path} (${why}); give the file that --backup wrote`,
    );
  }
}

/**
 * Reads the `window` records of big keys' prior states by their offsets (PriorState 'windows'), one at
 * a time: a big key is put back without its whole image in memory. Close it when done.
 */
export async function openWindows(path: string): Promise<{ read: WindowLoader; close(): Promise<void> }> {
  const records = await openRecords(path);
  return {
    async read(offset) {
      const record = await records.readAt(offset, 'window', "the window of a big key's prior state");
      const { items, fieldExpiries } = record;
      return fieldExpiries ? { items, fieldExpiries } : { items };
    },
    close: () => records.close(),
  };
}

/** Reads single records by their offsets (readFrames): a record of `kind`, or an error naming `what`. */
export async function openRecords(path: string): Promise<{
  readAt<K extends JournalRecord['kind']>(
    offset: number,
    kind: K,
    what: string,
  ): Promise<Extract<JournalRecord, { kind: K }>>;
  close(): Promise<void>;
}> {
  const file = await openOrExplain(path);
  return {
    async readAt(offset, kind, what) {
      const head = Buffer.alloc(8);
      const { bytesRead } = await file.read(head, 0, 8, offset);
      const length = bytesRead === 8 ? head.readUInt32LE(0) : 0;
      const frame = Buffer.alloc(8 + length);
      await file.read(frame, 0, frame.length, offset);
      const decoded = bytesRead === 8 ? decodeFrame(frame, 0) : 'short';
      // Records read back by offset (windows, befores with a prior value) have a frame of their own.
      const record =
        typeof decoded === 'string' || decoded.records.length !== 1 ? undefined : decoded.records[0]!;
      if (record?.kind !== kind) {
        throw new Error(`${path} lacks ${what} at byte ${offset} (the journal is damaged)`);
      }
      return record as Extract<JournalRecord, { kind: typeof kind }>;
    },
    close: () => file.close(),
  };
}

/** One window of a big prior: its items, and a hash's field expiries where it has any (a window record). */
export interface PriorWindow {
  items: Buffer[];
  fieldExpiries?: number[];
}

/** Reads one window of a big prior, by its journal offset. */
export type WindowLoader = (offset: number) => Promise<PriorWindow>;

/** The header of a journal; exit 2 when the file is not a journal of a format this version reads. */
export async function readHeader(path: string): Promise<JournalHeader> {
  for await (const record of readRecords(path)) {
    if (record.kind !== 'header') break;
    const named = ['target', 'planDigest', 'runId'] as const;
    if (typeof record.format !== 'number' || named.some((field) => typeof record[field] !== 'string')) {
      throw new ConfigError(
        '--backup',
        `${path} has a journal header without its format, target, plan or run (it was changed after the run); use the file that --backup wrote`,
      );
    }
    if (!READABLE_FORMATS.includes(record.format)) {
      throw new ConfigError(
        '--backup',
        `${path} is a journal of format ${record.format}; this kvmerge reads formats ${READABLE_FORMATS.slice(0, -1).join(', ')} and ${READABLE_FORMATS.at(-1)}`,
      );
    }
    return record;
  }
  throw new ConfigError(
    '--backup',
    `${path} has no journal header (its run stopped before writing anything); run again with a new journal`,
  );
}

/**
 * A journal for readers (rollback, verify): its header, and every key the run touched, once, with
 * its state before the run's first change to it, in the order the run first touched them.
 */
export async function openJournal(
  path: string,
): Promise<{ header: JournalHeader; firstPriors(): AsyncIterable<JournaledKey> }> {
  const header = await readHeader(path);
  return {
    header,
    async *firstPriors() {
      const seen = new Set<string>();
      for await (const record of readRecords(path)) {
        if (record.kind !== 'before') continue;
        const id = priorId(header, record);
        if (seen.has(id)) continue;
        seen.add(id);
        yield journaledKey(header, record);
      }
    },
  };
}

type BeforeRecord = Extract<JournalRecord, { kind: 'before' }>;

/** What a prior is the state of: the key, or with typed priors (Pika 3.x) one type of the name. */
function priorId(header: JournalHeader, record: BeforeRecord): string {
  const name = record.key.toString('latin1');
  return header.typedPriors ? `${record.type}\u0000${name}` : name;
}

/** A `before` record as the put-back takes it: with its type where the priors are typed. */
export function journaledKey(header: JournalHeader, record: BeforeRecord): JournaledKey {
  return header.typedPriors
    ? { key: record.key, prior: record.prior, type: record.type }
    : { key: record.key, prior: record.prior };
}

/** The temporary keys the run announced (big keys built aside): none may outlive a resume or rollback. */
export async function journaledTempKeys(path: string, end?: ScanEnd): Promise<Buffer[]> {
  const keys = new Map<string, Buffer>();
  for await (const record of readRecords(path, end)) {
    if (record.kind === 'temp') keys.set(record.key.toString('latin1'), record.key);
  }
  return [...keys.values()];
}

/**
 * Whether the journal was written for the database this URL names (host, port and db; the user and
 * password may differ, the journal holds no password). A URL of another scheme (Sentinel, Cluster)
 * is compared as written, redacted.
 */
export function journalTargetIs(header: JournalHeader, url: string): boolean {
  try {
    return isSameDatabase(parseRedisUrl(header.target), parseRedisUrl(url));
  } catch {
    return redactUrl(url) === header.target;
  }
}
