import { globMatch } from '../../common/glob.js';
import { RDB_OBJECT_TYPES } from '../object-types.js';
import { RdbFile, type RdbFileOptions } from './file.js';
import type { RdbKeyRecord } from './records.js';

/**
 * Where each key of one database of an RDB file is, so that a key can be found by name in a file,
 * which has no random access by key (verify's lookups, a later source's overlaps, a resumed run's
 * retries): one pass over the file's framing (values are not kept) records each key's place; a value
 * is then read at that place (RdbFile.valueChunks).
 *
 * Memory: a Map entry per key (the key as a
 * latin1 string: its length plus ~60–80 bytes of string and Map slot) pointing at a row of typed
 * columns (33 bytes: the record's offset, its value's offset and size, its expiry, its type byte;
 * up to twice that as the columns double). Measured: 105 bytes a key for 100,000 keys of 6 bytes; so
 * a file of 1,000,000 keys of 20 bytes costs ~130 MB while verify runs, nothing of the values.
 */
export class FileKeyIndex {
  private readonly rows = new Map<string, number>();
  private offsets = new Float64Array(1024);
  private valueOffsets = new Float64Array(1024);
  private valueSizes = new Float64Array(1024);
  /** Absolute expiry in Unix ms; NaN: none. */
  private expiries = new Float64Array(1024);
  private valueTypes = new Uint8Array(1024);

  private constructor(private readonly db: number) {}

  /** Reads the file's framing once (a pass like the pre-read's) and indexes the keys of `db` within `match`. */
  static async build(
    path: string,
    db: number,
    match: Buffer | undefined,
    options: RdbFileOptions,
  ): Promise<FileKeyIndex> {
    const index = new FileKeyIndex(db);
    const file = await RdbFile.open(path, options);
    try {
      for await (const records of file.batches()) {
        for (const record of records) {
          if (record.db !== db || (match && !globMatch(match, record.key))) continue;
          index.add(record);
        }
      }
    } finally {
      await file.close();
    }
    return index;
  }

  get size(): number {
    return this.rows.size;
  }

  /** The key's record, without its value bytes (read them at valueOffset), or undefined. */
  find(key: Buffer): RdbKeyRecord | undefined {
    const row = this.rows.get(key.toString('latin1'));
    if (row === undefined) return undefined;
    const valueType = this.valueTypes[row]!;
    const expiry = this.expiries[row]!;
    return {
      db: this.db,
      key,
      valueType,
      type: RDB_OBJECT_TYPES[valueType] ?? 'other',
      ...(Number.isNaN(expiry) ? {} : { expireAtMs: expiry }),
      offset: this.offsets[row]!,
      valueOffset: this.valueOffsets[row]!,
      valueSize: this.valueSizes[row]!,
    };
  }

  private add(record: RdbKeyRecord): void {
    const id = record.key.toString('latin1');
    // A key saved twice in one database is not a file Redis writes; the later record is the one kept.
    const row = this.rows.get(id) ?? this.rows.size;
    if (row >= this.offsets.length) this.grow();
    this.rows.set(id, row);
    this.offsets[row] = record.offset;
    this.valueOffsets[row] = record.valueOffset;
    this.valueSizes[row] = record.valueSize;
    this.expiries[row] = record.expireAtMs ?? Number.NaN;
    this.valueTypes[row] = record.valueType;
  }

  private grow(): void {
    const wider = <T extends Float64Array | Uint8Array>(column: T, make: (n: number) => T): T => {
      const out = make(column.length * 2);
      out.set(column);
      return out;
    };
    this.offsets = wider(this.offsets, (n) => new Float64Array(n));
    this.valueOffsets = wider(this.valueOffsets, (n) => new Float64Array(n));
    this.valueSizes = wider(this.valueSizes, (n) => new Float64Array(n));
    this.expiries = wider(this.expiries, (n) => new Float64Array(n));
    this.valueTypes = wider(this.valueTypes, (n) => new Uint8Array(n));
  }
}
