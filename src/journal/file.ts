import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../common/errors.js';
import { encodeFrame, MAGIC } from './format.js';
import type { JournalHeader, JournalRecord } from './types.js';

/** How long a record that need not be durable may wait for the next write. */
const LAZY_MS = 50;

/**
 * The journal file, append-only, with grouped fsync: every caller that needs its records durable
 * waits for the next fsync, and one fsync serves every record appended before it, so concurrent
 * batches share the cost. Records that need not be durable (outcomes) ride along with the next one.
 */
export class JournalFile {
  private queued: Buffer[] = [];
  /** Callers waiting for durability of what was queued when they asked. */
  private waiting: { resolve(): void; reject(err: Error): void }[] = [];
  private running = false;
  private failure?: Error;
  private idle: Promise<void> = Promise.resolve();
  private bytes: number;
  /** Where the next appended frame will start (bytes written and queued). */
  private end: number;

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
    const offsets: number[] = [];
    for (const record of records) {
      const frame = encodeFrame(record);
      offsets.push(this.end);
      this.end += frame.length;
      this.queued.push(frame);
    }
    if (durable) await this.sync();
    else this.later();
    return offsets;
  }

  /**
   * Records that need not be durable wait for the next write (every batch makes one before its first
   * command), or at most LAZY_MS: one write a batch instead of two halves the journal's system calls.
   */
  private later(): void {
    if (this.lazy) return;
    this.lazy = setTimeout(() => {
      this.lazy = undefined;
      if (this.queued.length > 0 && !this.failure) this.kick();
    }, LAZY_MS);
    this.lazy.unref();
  }

  private lazy?: NodeJS.Timeout;

  private sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    this.idle = this.drain().finally(() => {
      this.running = false;
      // Appended after the loop's last look, before the flag fell: drain again.
      if (!this.failure && (this.queued.length > 0 || this.waiting.length > 0)) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queued.length > 0 || this.waiting.length > 0) {
      const chunk = Buffer.concat(this.queued);
      this.queued = [];
      const waiters = this.waiting;
      this.waiting = [];
      try {
        if (chunk.length > 0) {
          let written = 0;
          while (written < chunk.length) {
            const { bytesWritten } = await this.handle.write(
              chunk,
              written,
              chunk.length - written,
              this.bytes,
            );
            written += bytesWritten;
            this.bytes += bytesWritten;
          }
        }
        if (waiters.length > 0) await this.handle.datasync();
        for (const w of waiters) w.resolve();
      } catch (err) {
        this.failure = new Error(`cannot write the journal ${this.path}: ${(err as Error).message}`);
        for (const w of [...waiters, ...this.waiting]) w.reject(this.failure);
        this.waiting = [];
        this.queued = [];
        return;
      }
    }
  }

  /** Writes and syncs what is queued, then closes the file. */
  async close(): Promise<void> {
    clearTimeout(this.lazy);
    try {
      if (!this.failure) await this.sync();
    } finally {
      await this.idle;
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
