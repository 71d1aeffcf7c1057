import { type FileHandle, open, stat } from 'node:fs/promises';
import {
  RdbEmptyFileError,
  RdbFormatError,
  RdbNotAFileError,
  RdbTruncatedError,
  RdbVersionError,
} from './errors.js';
import { type RdbFileInfo, type RdbKeyRecord, readRecords } from './records.js';
import { Window } from './window.js';

export interface RdbFileOptions {
  /** Bytes read from the file at a time (default 1 MiB). */
  chunkBytes?: number;
  /**
   * A value longer than this is not buffered (default 64 MiB): its record has no `value`, and
   * `valueChunks()` reads it in windows. Keys, AUX fields and function libraries longer than this
   * are refused.
   */
  bigValueBytes?: number;
  /** A batch closes at this many keys (default 1,000) … */
  batchKeys?: number;
  /** … or this many bytes of keys and values (default 8 MiB). */
  batchBytes?: number;
}

export const MIN_RDB_VERSION = 6;
export const MAX_RDB_VERSION = 12;
const HEADER = 9; // "REDIS" and the version in 4 digits

/**
 * An RDB file opened for one pass over its keys, with memory bounded by a window (a chunk, or a value
 * up to bigValueBytes), whatever the file's size:
 *
 *   const file = await RdbFile.open('dump.rdb');
 *   try {
 *     for await (const batch of file.batches()) for (const record of batch) use(record);
 *   } finally {
 *     await file.close();
 *   }
 *
 * Errors are RdbFileError subclasses (errors.ts), each naming the file and the byte offset.
 */
export class RdbFile {
  private used = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly header: Buffer,
    readonly info: RdbFileInfo,
    private readonly options: Required<RdbFileOptions>,
  ) {}

  /** Opens `path` and checks its header: a regular, non-empty file, `REDIS` and a version in 6–12. */
  static async open(path: string, options: RdbFileOptions = {}): Promise<RdbFile> {
    const stats = await stat(path).catch((err: NodeJS.ErrnoException) => {
      throw new RdbNotAFileError(path, `cannot be read (${err.code ?? err.message})`);
    });
    if (stats.isDirectory()) throw new RdbNotAFileError(path, 'is a directory, not an RDB file');
    if (!stats.isFile()) throw new RdbNotAFileError(path, 'is not a regular file');
    if (stats.size === 0) throw new RdbEmptyFileError(path);
    const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      throw new RdbNotAFileError(path, `cannot be opened (${err.code ?? err.message})`);
    });
    try {
      const head = Buffer.alloc(Math.min(16, stats.size));
      await fh.read(head, 0, head.length, 0);
      const version = headerVersion(path, head, stats.size);
      const info: RdbFileInfo = {
        file: path,
        size: stats.size,
        version,
        aux: [],
        functions: [],
        moduleAux: [],
        dbSizes: new Map(),
        slots: [],
        keys: 0,
      };
      const o: Required<RdbFileOptions> = {
        chunkBytes: options.chunkBytes ?? 1 << 20,
        bigValueBytes: options.bigValueBytes ?? 64 << 20,
        batchKeys: options.batchKeys ?? 1000,
        batchBytes: options.batchBytes ?? 8 << 20,
      };
      return new RdbFile(fh, head.subarray(0, HEADER), info, o);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** The keys in file order, in batches; one pass per opened file. */
  batches(): AsyncGenerator<RdbKeyRecord[]> {
    return this.pass(true);
  }

  async *records(): AsyncGenerator<RdbKeyRecord> {
    for await (const batch of this.batches()) yield* batch;
  }

  /**
   * Walks the whole file's framing without keeping values, and checks its CRC-64: what the pre-read
   * (verify) does. Resolves with the filled-in info, or rejects with the first damage found.
   */
  async walk(): Promise<RdbFileInfo> {
    for await (const _ of this.pass(false));
    return this.info;
  }

  /**
   * A value's bytes (as in the record's `value`), read again from the file in windows of at most
   * `windowBytes`: how a big value travels without being held whole.
   */
  async *valueChunks(record: RdbKeyRecord, windowBytes = this.options.chunkBytes): AsyncGenerator<Buffer> {
    const end = record.valueOffset + record.valueSize;
    for (let at = record.valueOffset; at < end; ) {
      const chunk = Buffer.allocUnsafe(Math.min(windowBytes, end - at));
      const { bytesRead } = await this.fh.read(chunk, 0, chunk.length, at);
      if (bytesRead === 0) throw new RdbTruncatedError(this.info.file, at, record.offset);
      yield bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead);
      at += bytesRead;
    }
  }

  /** A value's bytes (as in the record's `value`), read whole at its offset: a record found by name. */
  async readValue(record: RdbKeyRecord): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.valueChunks(record)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  close(): Promise<void> {
    return this.fh.close();
  }

  private pass(keepValues: boolean): AsyncGenerator<RdbKeyRecord[]> {
    if (this.used) throw new Error(`${this.info.file}: an RdbFile is read once; open it again`);
    this.used = true;
    const { chunkBytes, bigValueBytes } = this.options;
    const w = new Window(this.info.file, this.fh, this.info.size, chunkBytes, bigValueBytes + 2 * chunkBytes);
    w.startAfter(this.header);
    return readRecords(w, this.info, {
      keepValues,
      bigValueBytes: this.options.bigValueBytes,
      maxStringBytes: this.options.bigValueBytes,
      batchKeys: this.options.batchKeys,
      batchBytes: this.options.batchBytes,
    });
  }
}

/** The version from `REDIS0012`, or the error that says what the file is instead. */
function headerVersion(path: string, head: Buffer, size: number): number {
  const magic = head.subarray(0, HEADER).toString('latin1');
  const looksLikeRdb = /^REDIS\d{0,4}$/.test(magic) || 'REDIS'.startsWith(magic);
  if (size < HEADER && looksLikeRdb) throw new RdbTruncatedError(path, size, 0, 'the file ends');
  if (!/^REDIS\d{4}$/.test(magic)) throw new RdbFormatError(path, head);
  const version = Number(magic.slice(5));
  if (version < MIN_RDB_VERSION || version > MAX_RDB_VERSION) throw new RdbVersionError(path, version);
  return version;
}
