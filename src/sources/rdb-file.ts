import { ConnectionError } from '../common/errors.js';
import { globMatch } from '../common/glob.js';
import type { FileSource } from '../config/url.js';
import type { ProbeSide, ProbeUnit, SourceAnswer } from '../probe/probe.js';
import {
  dumpPayload,
  elementCount,
  FileKeyIndex,
  payloadChunks,
  payloadSize,
  RdbFile,
  RdbFileError,
  type RdbFileInfo,
  type RdbFileOptions,
  type RdbKeyRecord,
  verifyRdbFile,
} from '../rdb/file/index.js';
import type { ByteProgress } from '../report/types.js';
import type { ScanBatch } from '../scan/scanner.js';
import { type Caps, redisCaps } from '../servers/caps.js';
import { now } from '../servers/clock.js';
import type { PayloadOrigin } from '../servers/payload-stream.js';
import type { Transport } from '../servers/transport.js';
import type { DataType } from '../types/strategy.js';
import type { StreamValue } from '../types/stream/codec.js';
import { streamMetaCommands } from '../types/stream/window.js';
import type { BigValueReader } from '../write/big-values.js';
import { decodePayload, UnsupportedPayloadError } from '../write/rdb-payload.js';
import type { ReadRequest, SourceValue } from '../write/read.js';
import { deadlineFrom } from '../write/ttl.js';
import { fileValueWindows } from './rdb-value-windows.js';
import type { SourceReader } from './source.js';

/** The hot path of a source that is no server (an RDB file): nothing may be sent to it. */
export const NO_SERVER: Transport = {
  send: () => Promise.reject(new Error('internal: a command was sent to an RDB file source')),
  close: () => {},
};

/** Bytes of a big value read from the file at a time, when it is streamed as one payload. */
const FILE_PIECE_BYTES = 256 * 1024;

/** Files below this size are pre-read (their framing and CRC-64 checked) before any write (SPEC §10). */
export const PRE_READ_BELOW = 1 << 30;

/**
 * An RDB file as a source of the fold (SPEC §10): its keys of one database, in file order, in
 * batches; the probe's and the value read's answers come from the records of the batches in work,
 * not from a server. Nothing is kept of a batch once the run has settled it (`release`), so memory
 * is the batches in flight and the reader's window. A value over the reader's threshold has no bytes
 * in its record: it is reported as big (`memory`) and copied window by window from the file
 * (`bigValues`), never buffered whole.
 */
export class RdbFileSource implements SourceReader {
  /** The records of the batches in work, by key (latin1: one char a byte). */
  private readonly held = new Map<string, RdbKeyRecord>();
  private index?: Promise<FileKeyIndex>;

  private constructor(
    readonly name: string,
    readonly file: FileSource,
    readonly info: RdbFileInfo,
    private readonly match: Buffer | undefined,
    private readonly options: RdbFileOptions,
  ) {}

  /**
   * Opens the file and checks it before any write: the header always, and for a file under
   * PRE_READ_BELOW its whole framing and CRC-64. What is wrong is a ConnectionError (exit 2) naming
   * the source, the file and the byte offset. `bigValueBytes`: values longer than this are big.
   */
  static async open(
    name: string,
    file: FileSource,
    match: string | undefined,
    bigValueBytes: number,
  ): Promise<RdbFileSource> {
    const options: RdbFileOptions = { bigValueBytes };
    try {
      const head = await RdbFile.open(file.path, options);
      let info = head.info;
      await head.close();
      if (info.size < PRE_READ_BELOW) info = await verifyRdbFile(file.path, options);
      return new RdbFileSource(
        name,
        file,
        info,
        match === undefined ? undefined : Buffer.from(match),
        options,
      );
    } catch (err) {
      if (err instanceof RdbFileError) throw new ConnectionError(`source ${name}: ${err.message}`);
      throw err;
    }
  }

  get version(): number {
    return this.info.version;
  }

  /** Keys of its database, as the file's RESIZEDB hint (or, without one, the pre-read's count) says. */
  get keys(): number {
    return this.info.dbSizes.get(this.file.db)?.keys ?? (this.file.db === 0 ? this.info.keys : 0);
  }

  readonly exactSizes = true;

  async keyspace(): Promise<number> {
    return this.keys;
  }

  /** A held key's element count, from its value's headers (values read whole only; a bigger one is big by its bytes). */
  elements(key: Buffer): number | undefined {
    const record = this.held.get(key.toString('latin1'));
    return record?.value === undefined ? undefined : elementCount(record.valueType, record.value);
  }

  /** The probe asks the file's records of the batches in work: no server is behind it. */
  get probeSide(): ProbeSide {
    return { pipe: NO_SERVER, caps: this.caps(), answers: this.answers.bind(this) };
  }

  bytes(walked: number): ByteProgress {
    return { read: Math.round(walked * this.info.size), total: this.info.size };
  }

  /**
   * The file as the run's start reports it: its version, the AUX fields that say where it came from,
   * its keys; then, as far as the pre-read found them (a file under PRE_READ_BELOW), what it holds that
   * this source does not merge: other databases, function libraries, module types.
   */
  describe(): string[] {
    const aux = new Map(this.info.aux.map(([name, value]) => [name, value.toString('latin1')]));
    const from = ['redis-ver', 'valkey-ver'].flatMap((name) =>
      aux.has(name) ? [`${name} ${aux.get(name)}`] : [],
    );
    const ctime = Number(aux.get('ctime'));
    if (ctime > 0) from.push(`saved ${new Date(ctime * 1000).toISOString()}`);
    const lines = [
      `RDB ${this.version} file${from.length > 0 ? ` (${from.join(', ')})` : ''}, ` +
        `about ${this.keys} key(s) in db ${this.file.db}`,
    ];
    const others = [...this.info.dbSizes].filter(([db, { keys }]) => db !== this.file.db && keys > 0);
    if (others.length > 0)
      lines.push(
        `the file also holds ${others.map(([db, { keys }]) => `db ${db} (${keys} keys)`).join(', ')}, ` +
          `not merged by this source: add file://${this.file.path}?db=N as a source for each`,
      );
    if (this.info.functions.length > 0) {
      const names = this.info.functions.map(
        (code) => /name=([^\s]+)/.exec(code.toString('latin1'))?.[1] ?? '?',
      );
      lines.push(
        `the file holds ${names.length} function librar${names.length === 1 ? 'y' : 'ies'} (${names.join(', ')}), ` +
          'which kvmerge does not copy (it merges data): load them on the target with FUNCTION LOAD',
      );
    }
    if (this.info.moduleAux.length > 0)
      lines.push(`the file holds data of module type(s) ${[...new Set(this.info.moduleAux)].join(', ')}`);
    return lines;
  }

  /** What a server's Caps says of a source, for a file: it gives payloads of its own RDB version. */
  caps(): Caps {
    return {
      ...redisCaps('unknown', `RDB ${this.version}`),
      payloadRdbVersion: this.version,
      dump: true,
      restore: false,
      memoryUsage: false,
    };
  }

  /**
   * Why the target cannot RESTORE this file's payloads (RESTORE refuses a version newer than its own):
   * the values are then decoded and written natively. Undefined when it can.
   */
  nativeReason(target: Caps): string | undefined {
    const accepts = target.payloadRdbVersion;
    if (accepts !== undefined && this.version <= accepts) return undefined;
    return accepts === undefined
      ? `the target's RDB version is unknown (file ${this.name} is RDB ${this.version})`
      : `file ${this.name} is RDB ${this.version}, newer than the target's ${accepts}`;
  }

  /** The keys of its database (and `match`), in file order, in batches of at most `batchSize`; `walked`: the share of the file's bytes read. */
  async *batches(batchSize: number): AsyncGenerator<ScanBatch> {
    const rdb = await RdbFile.open(this.file.path, { ...this.options, batchKeys: batchSize });
    try {
      for await (const records of rdb.batches()) {
        const units: ProbeUnit[] = [];
        for (const record of this.wanted(records)) {
          this.held.set(record.key.toString('latin1'), record);
          units.push({ key: record.key });
        }
        const last = records[records.length - 1];
        if (units.length > 0) yield { units, walked: last ? last.offset / this.info.size : 0 };
      }
    } finally {
      await rdb.close();
    }
  }

  /** The batch is settled: its records are dropped. */
  release(units: readonly ProbeUnit[]): void {
    for (const unit of units) this.held.delete(unit.key.toString('latin1'));
  }

  /**
   * The probe's answers for keys of the batches in work: the type, the value's size, and (for a value
   * of at most `dumpBelow` bytes, where the dump path is taken) the payload and remaining TTL. A key
   * already expired at this moment has no type: the fold counts it `expired` (SPEC §1.5).
   */
  answers(keys: readonly Buffer[], dumpBelow: number): SourceAnswer[] {
    const at = Date.now();
    const sentAt = now();
    return keys.map((key): SourceAnswer => {
      const record = this.held.get(key.toString('latin1'));
      if (!record || expired(record, at)) return { types: [] };
      const answer: SourceAnswer = { types: [record.type], memory: record.valueSize };
      if (dumpBelow > 0 && record.value && record.valueSize <= dumpBelow)
        answer.prefetched = { pttl: pttlOf(record, at), payload: dumpPayload(record, this.version), sentAt };
      return answer;
    });
  }

  /**
   * The values of keys decided for writing: a DUMP payload of the file's own RDB version (`dump`), or
   * the value decoded into what the type codecs write (`native`: a target that refuses the version,
   * a merge). A value that cannot be carried is `failed`, with the reason.
   */
  async values(requests: readonly ReadRequest[]): Promise<SourceValue[]> {
    const at = Date.now();
    const sentAt = now();
    return requests.map((request): SourceValue => {
      const record = this.held.get(request.sourceKey.toString('latin1'));
      if (!record || expired(record, at)) return { state: 'gone' };
      const deadline = deadlineFrom(pttlOf(record, at), sentAt);
      if (deadline === 'gone') return { state: 'gone' };
      // Not read whole (over the reader's threshold): such a value is big, and bigValues() carries it.
      if (!record.value)
        return {
          state: 'failed',
          message: `its value (${record.valueSize} bytes) was not read whole from ${this.name}`,
        };
      const payload = request.prefetched?.payload ?? dumpPayload(record, this.version);
      if (request.how === 'dump' || request.type === 'other') return { state: 'ok', deadline, dump: payload };
      try {
        const decoded = decodePayload(payload);
        const value: SourceValue = { state: 'ok', deadline, native: decoded.value };
        // A field's expiry in the file is a Unix time: as a deadline, like the key's.
        if (decoded.fieldExpiries?.length)
          value.fieldDeadlines = decoded.fieldExpiries.map(([field, unixMs]) => [
            field,
            sentAt + unixMs - at,
          ]);
        return value;
      } catch (err) {
        if (!(err instanceof UnsupportedPayloadError)) throw err;
        return { state: 'failed', message: `${err.message} (${this.name}, byte ${record.offset})` };
      }
    });
  }

  /**
   * Its big values for the big-key copy (write/bigkey.ts), read again from the file window by window
   * (sources/rdb-value-windows.ts) for keys of the batches in work: the copy, merge and transaction paths
   * are a server's. A stream's last id and groups, found after its entries, become its tail.
   */
  bigValues(): BigValueReader {
    const metas = new Map<string, Omit<StreamValue, 'entries'>>();
    const recordOf = (key: Buffer): RdbKeyRecord => {
      const record = this.held.get(key.toString('latin1'));
      if (!record)
        throw new Error(`${this.name}: the key ${key.toString('latin1')} is not in a batch at work`);
      return record;
    };
    return {
      head: async (key) => {
        const at = Date.now();
        const sentAt = now();
        const record = this.held.get(key.toString('latin1'));
        if (!record || expired(record, at)) return { type: null, pttl: -2, sentAt };
        return { type: record.type, pttl: pttlOf(record, at), sentAt };
      },
      windows: (key, _type, windowBytes, fromTail) =>
        fileValueWindows(this.file.path, recordOf(key), {
          windowBytes,
          fromTail,
          onStreamMeta: (meta) => metas.set(key.toString('latin1'), meta),
        }),
      tail: async (key, _type, into, targetCaps) => {
        const meta = metas.get(key.toString('latin1'));
        metas.delete(key.toString('latin1'));
        return meta ? streamMetaCommands(into, meta, targetCaps) : [];
      },
    };
  }

  /**
   * A big value of the batches in work as one DUMP payload read again from the file's bytes (the
   * CRC-64 computed on the way: rdb/file/payload.ts), to be streamed into one RESTORE as a server's
   * DUMP is. The payload carries the file's RDB version, which the target takes (else the dump path
   * is off for this file, and its big values go in windows).
   */
  bigPayload(key: Buffer): PayloadOrigin | undefined {
    const record = this.held.get(key.toString('latin1'));
    if (!record) return undefined;
    let file: RdbFile | undefined;
    let closed = false;
    return {
      head: async () => {
        const at = Date.now();
        const sentAt = now();
        if (expired(record, at)) return { type: 'none', pttl: -2, sentAt, length: -1 };
        return { type: record.type, pttl: pttlOf(record, at), sentAt, length: payloadSize(record) };
      },
      forward: async (take) => {
        file = await RdbFile.open(this.file.path, this.options);
        for await (const piece of payloadChunks(file, record, this.version, FILE_PIECE_BYTES)) {
          if (closed) return;
          await take(piece);
        }
      },
      close: () => {
        closed = true;
        file?.close().catch(() => undefined);
        file = undefined;
      },
    };
  }

  /**
   * The types under which this file holds each key (an empty list: it does not, or the key is expired),
   * for the later sources' probes (overlaps, a dry run's prediction). The first call reads the whole
   * file once into an index of its keys of this database (FileKeyIndex).
   */
  async holderTypes(keys: readonly Buffer[]): Promise<DataType[][]> {
    if (keys.length === 0) return [];
    const index = await this.keyIndex();
    const at = Date.now();
    return keys.map((key) => {
      const record = index.find(key);
      return !record || expired(record, at) ? [] : [record.type];
    });
  }

  /**
   * Keys asked by name outside the file's own batches (a resumed run's retries of failed keys): their
   * records, found through the index, are held for the probe and the value reads until released, a
   * value up to the big-value threshold read whole at its offset (a bigger one goes in windows).
   */
  async hold(units: readonly ProbeUnit[]): Promise<void> {
    const index = await this.keyIndex();
    const rdb = await RdbFile.open(this.file.path, this.options);
    try {
      for (const unit of units) {
        const record = index.find(unit.key);
        if (!record) continue;
        if (record.valueSize <= (this.options.bigValueBytes ?? 0)) record.value = await rdb.readValue(record);
        this.held.set(unit.key.toString('latin1'), record);
      }
    } finally {
      await rdb.close();
    }
  }

  /** Where each key of its database (within `match`) is in the file: read once, on the first question by name. */
  keyIndex(): Promise<FileKeyIndex> {
    this.index ??= FileKeyIndex.build(this.file.path, this.file.db, this.match, this.options);
    return this.index;
  }

  private *wanted(records: readonly RdbKeyRecord[]): Generator<RdbKeyRecord> {
    for (const record of records) {
      if (record.db !== this.file.db) continue;
      if (this.match && !globMatch(this.match, record.key)) continue;
      yield record;
    }
  }
}

function expired(record: RdbKeyRecord, at: number): boolean {
  return record.expireAtMs !== undefined && record.expireAtMs <= at;
}

/** The record's remaining lifetime as PTTL would say it (-1: none). */
function pttlOf(record: RdbKeyRecord, at: number): number {
  return record.expireAtMs === undefined ? -1 : Math.max(0, record.expireAtMs - at);
}
