import { open } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { isSameDatabase, parseRedisUrl, redactUrl } from '../redis/url.js';
import { decodeFrame, type JournalHeader, type JournalRecord, MAGIC, READABLE_FORMATS } from './format.js';
import type { JournaledKey } from './types.js';

export type { JournalHeader } from './format.js';

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
 * `end` is filled in when the iteration is over.
 */
export async function* readRecords(path: string, end?: ScanEnd): AsyncGenerator<JournalRecord> {
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
      if (frame === 'short') {
        if (eof) {
          torn = offset < data.length;
          break;
        }
        await fill();
        continue;
      }
      if (frame === 'bad') {
        torn = true;
        break;
      }
      consumed += frame.end - offset;
      offset = frame.end;
      yield frame.record;
    }
    if (end) {
      end.validBytes = consumed;
      end.torn = torn;
    }
  } finally {
    await file.close();
  }
}

async function openOrExplain(path: string) {
  try {
    return await open(path, 'r');
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
export async function openWindows(
  path: string,
): Promise<{ read(offset: number): Promise<Buffer[]>; close(): Promise<void> }> {
  const file = await openOrExplain(path);
  return {
    async read(offset) {
      const head = Buffer.alloc(8);
      const { bytesRead } = await file.read(head, 0, 8, offset);
      const length = bytesRead === 8 ? head.readUInt32LE(0) : 0;
      const frame = Buffer.alloc(8 + length);
      await file.read(frame, 0, frame.length, offset);
      const decoded = bytesRead === 8 ? decodeFrame(frame, 0) : 'short';
      if (typeof decoded === 'string' || decoded.record.kind !== 'window') {
        throw new Error(
          `${path} lacks the window of a big key's prior state at byte ${offset} (the journal is damaged)`,
        );
      }
      return decoded.record.items;
    },
    close: () => file.close(),
  };
}

/** Reads one window's items, by its journal offset. */
export type WindowLoader = (offset: number) => Promise<Buffer[]>;

/** The header of a journal; exit 2 when the file is not a journal of a format this version reads. */
export async function readHeader(path: string): Promise<JournalHeader> {
  for await (const record of readRecords(path)) {
    if (record.kind !== 'header') break;
    if (!READABLE_FORMATS.includes(record.format)) {
      throw new ConfigError(
        '--backup',
        `${path} is a journal of format ${record.format}; this kvmerge reads formats ${READABLE_FORMATS.join(' and ')}`,
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
        const name = record.key.toString('latin1');
        if (seen.has(name)) continue;
        seen.add(name);
        yield { key: record.key, prior: record.prior };
      }
    },
  };
}

/** The temporary keys the run announced (big keys built aside): none may outlive a resume or rollback. */
export async function journaledTempKeys(path: string): Promise<Buffer[]> {
  const keys = new Map<string, Buffer>();
  for await (const record of readRecords(path)) {
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
