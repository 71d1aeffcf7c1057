import { writevSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../common/errors.js';
import { encodeFrame, encodeFrames, MAGIC } from './format.js';
import type { JournalHeader, JournalRecord } from './types.js';

/** How long a record that need not be durable may wait for the next write. */
const LAZY_MS = 50;

/**
 * The journal file, append-only, with grouped fsync: every caller that needs its records durable
 * waits for the next fsync, and one fsync serves every record appended before it, so concurrent
 * batches share the cost. Records that need not be durable (outcomes) ride along with the next write.
 *
 * Frames are written with a synchronous writev(2) into the page cache (microseconds for a batch's
 * records) and only fdatasync goes to libuv's thread pool: an asynchronous write is a thread-pool
 * round trip of its own, and on a machine whose cores are busy each round trip costs the run more in
 * wake-ups than the write itself (issue 20: the journaled copy's file writes took 90 ms of its main
 * thread in 600 asynchronous writes).
 */
export class JournalFile {
  /** Frames not written yet (non-durable ones wait for the next write). */
  private queued: Buffer[] = [];
  /** Callers waiting for an fdatasync that starts after their records were written. */
  private waiting: { resolve(): void; reject(err: Error): void }[] = [];
  /** The fdatasync under way, if any. */
  private syncing?: Promise<void>;
  private failure?: Error;
  private bytes: number;
  /** Where the next appended frame will start (bytes written and queued). */
  private end: number;
  private lazy?: NodeJS.Timeout;

  private constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    position: number,
  ) {
    this.bytes = position;
    this.end = position;
  }

  /** A new journal with its header, durable (file and directory entry) before this resolves. */
  static async create(path: string, header: JournalHeader): Promise<JournalFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'wx');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError(
        '--backup',
        code === 'EEXIST'
          ? `${path} already exists; add --resume to continue the run it records, or give a new file`
          : `cannot create the journal ${path} (${code ?? (err as Error).message}); pick a writable path`,
      );
    }
    const file = new JournalFile(handle, path, 0);
    const frame = encodeFrame(header);
    file.queued.push(MAGIC, frame);
    file.end = MAGIC.length + frame.length;
    await file.sync();
    await syncDirectory(path);
    return file;
  }

  /** An existing journal, cut after its last whole record (a torn one is dropped), to append to. */
  static async reopen(path: string, validBytes: number): Promise<JournalFile> {
    const handle = await open(path, 'r+');
    await handle.truncate(validBytes);
    await handle.datasync();
    return new JournalFile(handle, path, validBytes);
  }

  /** Bytes in the file so far. */
  get size(): number {
    return this.bytes;
  }

  /**
   * Appends records; resolves once they are on disk (fsync) when `durable`, at once otherwise, to the
   * offset of each record's frame in the file (for readers that come back to one: reader.ts readFrameAt).
   */
  async append(records: readonly JournalRecord[], durable: boolean): Promise<number[]> {
    if (this.failure) throw this.failure;
    const { data, offsets } = encodeFrames(records);
    for (let i = 0; i < offsets.length; i++) offsets[i]! += this.end;
    await this.appendFrames(data, durable);
    return offsets;
  }

  /** Appends frames already encoded (format.ts); resolves as `append` does. */
  async appendFrames(data: Buffer, durable: boolean): Promise<void> {
    if (this.failure) throw this.failure;
    this.end += data.length;
    this.queued.push(data);
    if (durable) await this.sync();
    else this.later();
  }

  /**
   * Records that need not be durable wait for the next write (every batch makes one before its first
   * command), or at most LAZY_MS: one write a batch instead of two halves the journal's system calls.
   */
  private later(): void {
    if (this.lazy) return;
    this.lazy = setTimeout(() => {
      this.lazy = undefined;
      if (!this.failure) this.writeQueued();
    }, LAZY_MS);
    this.lazy.unref();
  }

  /** Writes the queued frames into the file (the page cache); a failure fails the journal. */
  private writeQueued(): boolean {
    if (this.queued.length === 0) return true;
    // Usually two (a batch's befores, the applied marks of the batch before): one writev(2), no copy.
    let chunks = this.queued;
    this.queued = [];
    try {
      while (chunks.length > 0) {
        let n = writevSync(this.handle.fd, chunks, this.bytes);
        this.bytes += n;
        // A short write (rare): what is left of the frames goes again.
        while (chunks.length > 0 && n >= chunks[0]!.length) n -= chunks.shift()!.length;
        if (n > 0) chunks = [chunks[0]!.subarray(n), ...chunks.slice(1)];
      }
      return true;
    } catch (err) {
      this.fail(err as Error);
      return false;
    }
  }

  /** Resolves once every frame appended so far is written and synced by an fdatasync begun after it. */
  private sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.writeQueued()) return Promise.reject(this.failure!);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.syncing) this.syncing = this.syncLoop();
    });
  }

  /** fdatasync until nobody waits: those who came during one wait for the next (one serves them all). */
  private async syncLoop(): Promise<void> {
    while (this.waiting.length > 0 && !this.failure) {
      const waiters = this.waiting;
      this.waiting = [];
      try {
        await this.handle.datasync();
      } catch (err) {
        this.waiting.unshift(...waiters);
        this.fail(err as Error);
        break;
      }
      for (const w of waiters) w.resolve();
    }
    this.syncing = undefined;
  }

  private fail(err: Error): void {
    this.failure ??= new Error(`cannot write the journal ${this.path}: ${err.message}`);
    for (const w of this.waiting) w.reject(this.failure);
    this.waiting = [];
    this.queued = [];
  }

  /** Writes and syncs what is queued, then closes the file. */
  async close(): Promise<void> {
    clearTimeout(this.lazy);
    try {
      if (!this.failure) await this.sync();
    } finally {
      await this.syncing;
      await this.handle.close();
    }
  }
}

/** A new file's directory entry survives a power loss only once the directory is synced. */
async function syncDirectory(path: string): Promise<void> {
  const dir = await open(dirname(path), 'r').catch(() => undefined);
  if (!dir) return;
  await dir.sync().catch(() => undefined);
  await dir.close();
}
