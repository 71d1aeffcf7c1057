import { globMatch } from '../common/glob.js';
import type { MergePlan, SourcePlan } from '../config/plan.js';
import { dumpPayload, RdbFile, type RdbFileOptions, type RdbKeyRecord } from '../rdb/file/index.js';
import type { ScanBatch } from '../scan/scanner.js';
import type { Caps } from '../servers/caps.js';
import { RdbFileSource } from '../sources/rdb-file.js';
import type { DataType } from '../types/strategy.js';
import { verifyOf } from '../types/verify.js';
import { decodePayload, UnsupportedPayloadError } from '../write/rdb-payload.js';
import type { Observed } from './expect.js';
import { fileError } from './file-errors.js';
import { FileValue } from './file-value.js';

/**
 * An RDB file as a source verify reads (SPEC §10, §6.5): the same answers a server side gives
 * (read.ts typesOf and valuesOf), from the file. The file's own keys come in batches, in file order,
 * their records held while their batch is checked (as RdbFileSource's in the merge); a key asked by
 * name otherwise (another source's key, a journaled key, a sampled key) is found in an index of the
 * file's keys built on the first such question (RdbFileSource.keyIndex; rdb/file/key-index.ts says its memory), and its value read
 * at its offset. A key whose expiry has passed at the question is not there: the merge counted it
 * `expired` and wrote nothing of it.
 */

/** The values of a batch of keys, and the keys whose value the file holds but verify cannot read. */
export interface FileValues {
  values: Observed[][];
  /** Key index → why its value is not compared (a big value, an encoding not decoded). */
  unread: Map<number, string>;
}

/** Keys this long are read whole even under a lower write.bigKeyBytes (the reader refuses longer keys). */
const MIN_BUFFERED = 1 << 16;

export class FileSide {
  /** The records of the file's own batches being checked, by key (latin1). */
  private readonly held = new Map<string, RdbKeyRecord>();
  /** Opened on the first value read at an offset; positional reads only. */
  private reader?: Promise<RdbFile>;

  private constructor(
    private readonly source: RdbFileSource,
    private readonly match: Buffer | undefined,
    private readonly options: RdbFileOptions,
    readonly label: string,
  ) {}

  /**
   * Opens and pre-reads the file as the merge does (RdbFileSource.open: its header always, its framing
   * and CRC-64 under 1 GiB): a damaged file is a ConnectionError naming it (exit 2) before any check.
   */
  static async open(plan: SourcePlan, write: MergePlan['write']): Promise<FileSide> {
    const file = plan.file!;
    const bigValueBytes = Math.max(write.bigKeyBytes + 1, MIN_BUFFERED);
    const source = await RdbFileSource.open(plan.name, file, plan.match, bigValueBytes);
    return new FileSide(
      source,
      plan.match === undefined ? undefined : Buffer.from(plan.match),
      { bigValueBytes },
      `source ${plan.name} (file ${file.path}${file.db === 0 ? '' : `, db ${file.db}`})`,
    );
  }

  get caps(): Caps {
    return this.source.caps();
  }

  get path(): string {
    return this.source.file.path;
  }

  /**
   * The file's keys of its database (within `match`), in file order. `hold`: each batch's records are
   * kept until release() (its keys are then checked without a second read of the file).
   */
  async *batches(batchSize: number, hold: boolean): AsyncGenerator<ScanBatch> {
    const rdb = await this.named(RdbFile.open(this.path, { ...this.options, batchKeys: batchSize }));
    try {
      for await (const records of rdb.batches()) {
        const units = [];
        const at = Date.now();
        for (const record of records) {
          // Expired already: no key of the fold (the merge counted it `expired`), as a server's SCAN skips it.
          if (!this.wanted(record) || expired(record, at)) continue;
          if (hold) this.held.set(record.key.toString('latin1'), record);
          units.push({ key: record.key });
        }
        const last = records[records.length - 1];
        if (units.length > 0) yield { units, walked: last ? last.offset / this.source.info.size : 0 };
      }
    } catch (err) {
      throw fileError(this.source.name, err);
    } finally {
      await rdb.close();
    }
  }

  /** The batch is checked: its records are dropped. */
  release(keys: readonly Buffer[]): void {
    for (const key of keys) this.held.delete(key.toString('latin1'));
  }

  /** The type of each key (undefined where not asked; none: not in the file, or expired by now). */
  async typesOf(keys: (Buffer | undefined)[]): Promise<(DataType[] | undefined)[]> {
    const at = Date.now();
    const records = await this.recordsOf(keys);
    return keys.map((key, i) => {
      if (key === undefined) return undefined;
      const record = records[i];
      return record && !expired(record, at) ? [record.type] : [];
    });
  }

  /**
   * The values of the keys that have a type, with their TTLs (remaining ms from the expiry the file
   * holds). A value of at most write.bigKeyBytes is decoded whole; a bigger one is a FileValue, read in
   * windows from the file when it is compared. A value verify cannot decode (a zipmap of an RDB before
   * Redis 2.6, a newer stream format) is in `unread`, with why.
   */
  async valuesOf(
    keys: (Buffer | undefined)[],
    types: (readonly DataType[] | undefined)[],
    write: Pick<MergePlan['write'], 'bigKeyBytes'>,
  ): Promise<FileValues> {
    const out: FileValues = { values: keys.map(() => []), unread: new Map() };
    const at = Date.now();
    const found = await this.recordsOf(keys.map((k, i) => (types[i]?.length ? k : undefined)));
    const live = (r: RdbKeyRecord | undefined): r is RdbKeyRecord => r !== undefined && !expired(r, at);
    // The whole values not held by a batch are read at their offsets together (the reads overlap in
    // libuv's pool), as a server's values of a batch come in one round trip: a batch's values at most.
    const records = await Promise.all(
      found.map((r) =>
        live(r) && r.type !== 'other' && r.valueSize <= write.bigKeyBytes ? this.withValue(r) : r,
      ),
    );
    for (const [i, record] of records.entries()) {
      if (!live(record)) continue;
      const ttl = record.expireAtMs === undefined ? null : record.expireAtMs - at;
      if (record.type === 'other') {
        out.values[i]!.push({ type: 'other', value: undefined, ttl });
        continue;
      }
      try {
        if (record.valueSize > write.bigKeyBytes) {
          // Compared in windows read from the file; its field TTLs are not compared (as a server's big hash).
          const value = await FileValue.open(record.type, this.source.name, this.path, record);
          out.values[i]!.push({ type: record.type, value, ttl });
          continue;
        }
        const decoded = decodePayload(dumpPayload(record, this.source.version));
        const fieldTtls = verifyOf(decoded.type).fieldTtls
          ? { fieldTtls: new Map((decoded.fieldExpiries ?? []).map(([f, x]) => [f.toString('latin1'), x])) }
          : {};
        out.values[i]!.push({ type: decoded.type, value: decoded.value, ttl, ...fieldTtls });
      } catch (err) {
        if (!(err instanceof UnsupportedPayloadError)) throw err;
        out.unread.set(i, this.unreadable(record, err.message));
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.held.clear();
    const reader = this.reader;
    this.reader = undefined;
    // A reader that failed to open has nothing to close (its error was the check's).
    if (reader) await (await reader.catch(() => undefined))?.close();
  }

  /** Each key's record: from the batches held, else from the index (built on the first miss). */
  private async recordsOf(keys: (Buffer | undefined)[]): Promise<(RdbKeyRecord | undefined)[]> {
    const out = keys.map((k) => (k === undefined ? undefined : this.held.get(k.toString('latin1'))));
    if (keys.every((k, i) => k === undefined || out[i] !== undefined)) return out;
    const index = await this.named(this.source.keyIndex());
    return keys.map((k, i) => out[i] ?? (k === undefined ? undefined : index.find(k)));
  }

  /** The record with its value's bytes (read at its offset when the record came from the index). */
  private async withValue(record: RdbKeyRecord): Promise<RdbKeyRecord> {
    if (record.value) return record;
    this.reader ??= this.named(RdbFile.open(this.path, this.options));
    const reader = await this.reader;
    return { ...record, value: await this.named(reader.readValue(record)) };
  }

  /** What a difference says of a value verify cannot read: the source, the file, the record's offset, why. */
  private unreadable(record: RdbKeyRecord, why: string): string {
    return `source ${this.source.name}'s ${record.type} (byte ${record.offset} of ${this.path}), which verify cannot read: ${why}`;
  }

  /** The file's damage found past its pre-read (a file over 1 GiB), as exit 2 naming the source. */
  private named<T>(reading: Promise<T>): Promise<T> {
    return reading.catch((err: unknown) => {
      throw fileError(this.source.name, err);
    });
  }

  private wanted(record: RdbKeyRecord): boolean {
    return record.db === this.source.file.db && (!this.match || globMatch(this.match, record.key));
  }
}

function expired(record: RdbKeyRecord, at: number): boolean {
  return record.expireAtMs !== undefined && record.expireAtMs <= at;
}
