// biome-ignore-all lint/suspicious/noAssignInExpressions: `while ((n = w.len()) === NEED) refill` is this reader's one idiom: try a token, refill until it is there
import { RDB_OBJECT_TYPES, type RdbDataType } from '../object-types.js';
import { RdbChecksumError, RdbCorruptError, RdbUnknownTypeError, RdbUnsupportedError } from './errors.js';
import { moduleName, skipModuleBody } from './module.js';
import { walkValue } from './value-walk.js';
import { NEED, type Window } from './window.js';

/** One key of the file: where it is, its expiry, and its value's bytes (or their place, when big). */
export interface RdbKeyRecord {
  db: number;
  key: Buffer;
  /** The RDB object type byte (the first byte of a DUMP payload). */
  valueType: number;
  type: RdbDataType;
  /** Absolute expiry (Unix ms), from EXPIRETIME / EXPIRETIME_MS. */
  expireAtMs?: number;
  /** LRU idle seconds (IDLE) or LFU counter (FREQ), as saved under an LRU / LFU maxmemory policy. */
  idleSeconds?: number;
  freq?: number;
  /** File offset of the record's first byte (its expiry, idle or freq opcode, else its type byte). */
  offset: number;
  /** The value's bytes in the file: what follows the key, what a DUMP payload carries after the type. */
  valueOffset: number;
  valueSize: number;
  /** The module type's name, for a module value (type 7). */
  module?: string;
  /** Those bytes; absent when the value is big (over bigValueBytes) or in a framing-only read. */
  value?: Buffer;
}

/** What the file says besides its keys, filled in as the read goes on. */
export interface RdbFileInfo {
  file: string;
  size: number;
  version: number;
  /** AUX fields (redis-ver, redis-bits, ctime, used-mem, repl-id, aof-base, …), in file order. */
  aux: [name: string, value: Buffer][];
  /** FUNCTION2 records: the code of each function library. */
  functions: Buffer[];
  /** MODULE_AUX records: the module type's name of each. */
  moduleAux: string[];
  /** RESIZEDB hints per database: how many keys and keys with an expiry the file holds. */
  dbSizes: Map<number, { keys: number; expires: number }>;
  /** SLOT_INFO records (Redis 7.4+ and Valkey 8 cluster nodes): [slot, keys, expires]. */
  slots: [slot: number, keys: number, expires: number][];
  keys: number;
  /** Set at the EOF opcode: 'ok' when the CRC-64 matched, 'absent' when saved without (rdbchecksum no). */
  checksum?: 'ok' | 'absent';
  /** Bytes after the checksum, which Redis ignores too. */
  trailingBytes?: number;
  /** Set at the end: the largest the read's window was (its memory, besides the records handed out). */
  windowPeakBytes?: number;
}

export interface ReadOptions {
  /** Keep values (records), or only walk their framing (verify). */
  keepValues: boolean;
  /** A value longer than this is not buffered: its record comes without `value`. */
  bigValueBytes: number;
  /** The longest key, AUX field or function library read whole. */
  maxStringBytes: number;
  batchKeys: number;
  batchBytes: number;
}

const OP = {
  SLOT_INFO: 0xf4,
  FUNCTION2: 0xf5,
  FUNCTION_PRE_GA: 0xf6,
  MODULE_AUX: 0xf7,
  IDLE: 0xf8,
  FREQ: 0xf9,
  AUX: 0xfa,
  RESIZEDB: 0xfb,
  EXPIRETIME_MS: 0xfc,
  EXPIRETIME: 0xfd,
  SELECTDB: 0xfe,
  EOF: 0xff,
} as const;
const MODULE_OPCODE_UINT = 2;
/** Object types whose value is one string (an encoded blob or the string itself). */
const ONE_STRING = new Set([0, 9, 10, 11, 12, 13, 16, 17, 20, 23]);

/**
 * The records of an RDB file after its 9-byte header, in batches (of batchKeys keys or batchBytes
 * bytes), as Redis's rdbLoadRio walks them: opcodes that set state for the next key (SELECTDB,
 * EXPIRETIME*, IDLE, FREQ), opcodes that describe the file (AUX, RESIZEDB, SLOT_INFO, FUNCTION2,
 * MODULE_AUX: into `info`), keys, and EOF with the CRC-64 of everything before it.
 *
 * The hot path (a type byte, a key, a value already in the window) awaits nothing; a refill is the
 * only await.
 */
export async function* readRecords(
  w: Window,
  info: RdbFileInfo,
  o: ReadOptions,
): AsyncGenerator<RdbKeyRecord[]> {
  const pending: { batch: RdbKeyRecord[] } = { batch: [] };
  try {
    yield* walkRecords(w, info, o, pending);
  } catch (err) {
    // The whole records read before the damage go out before the error: a merge applies them, then
    // stops at the damaged record's offset.
    if (pending.batch.length > 0) yield pending.batch;
    throw err;
  }
}

async function* walkRecords(
  w: Window,
  info: RdbFileInfo,
  o: ReadOptions,
  pending: { batch: RdbKeyRecord[] },
): AsyncGenerator<RdbKeyRecord[]> {
  let db = 0;
  let expireAtMs: number | undefined;
  let idleSeconds: number | undefined;
  let freq: number | undefined;
  let recordAt: number | undefined;
  let batch = pending.batch;
  let batchBytes = 0;
  const len = async (): Promise<number> => {
    let n: number;
    while ((n = w.len()) === NEED) await w.more(w.offset);
    return n;
  };
  const fixed = async (n: number): Promise<Buffer> => {
    while (!w.skip(n)) await w.more(w.offset);
    return w.buf.subarray(w.pos - n, w.pos);
  };
  const whole = async (what: string): Promise<Buffer> => {
    const at = w.offset;
    let s: Buffer | null;
    while ((s = w.string()) === null) {
      if (w.base + w.end - at > o.maxStringBytes)
        throw new RdbUnsupportedError(w.file, at, `${what} longer than ${o.maxStringBytes} bytes`);
      await w.more(at);
    }
    return s;
  };

  for (;;) {
    const at = w.offset;
    w.recordAt = recordAt ?? at;
    let op: number;
    while ((op = w.byte()) === NEED) await w.more(w.offset);
    const type = RDB_OBJECT_TYPES[op];
    if (type !== undefined) {
      let key = w.string();
      if (key === null) key = await whole('a key');
      const valueOffset = w.offset;
      let module: string | undefined;
      let big = false;
      // A value that is one string (most keys) skips in one call when the window holds it; anything
      // else, or a string cut by the window's end, walks with refills (skipString resumes where it was).
      if (!(ONE_STRING.has(op) && w.skipString())) {
        const walk = walkValue(w, op, (id) => {
          module = moduleName(id);
        });
        while (!walk.next().done) {
          // Big as soon as it is known to pass the threshold: a long string says its length first.
          if (!big && (!o.keepValues || w.base + w.end - valueOffset + w.stringLeft >= o.bigValueBytes))
            big = true;
          await w.more(big ? w.offset : valueOffset);
        }
      }
      info.keys++;
      if (o.keepValues) {
        const valueSize = w.offset - valueOffset;
        const record: RdbKeyRecord = {
          db,
          key,
          valueType: op,
          type,
          offset: recordAt ?? at,
          valueOffset,
          valueSize,
        };
        if (!big) record.value = w.copyOut(valueOffset - w.base, w.pos);
        if (expireAtMs !== undefined) record.expireAtMs = expireAtMs;
        if (idleSeconds !== undefined) record.idleSeconds = idleSeconds;
        if (freq !== undefined) record.freq = freq;
        if (module !== undefined) record.module = module;
        batch.push(record);
        batchBytes += key.length + valueSize;
        if (batch.length >= o.batchKeys || batchBytes >= o.batchBytes) {
          yield batch;
          batch = [];
          pending.batch = batch;
          batchBytes = 0;
        }
      }
      expireAtMs = idleSeconds = freq = recordAt = undefined;
      continue;
    }
    switch (op) {
      case OP.EOF:
        if (batch.length > 0) yield batch;
        pending.batch = [];
        await checksum(w, info);
        return;
      case OP.SELECTDB:
        db = await len();
        break;
      case OP.EXPIRETIME: // seconds, a 32-bit integer
        recordAt ??= at;
        expireAtMs = (await fixed(4)).readInt32LE(0) * 1000;
        break;
      case OP.EXPIRETIME_MS:
        recordAt ??= at;
        expireAtMs = Number((await fixed(8)).readBigInt64LE(0));
        break;
      case OP.IDLE:
        recordAt ??= at;
        idleSeconds = await len();
        break;
      case OP.FREQ:
        recordAt ??= at;
        freq = (await fixed(1))[0]!;
        break;
      case OP.RESIZEDB: {
        const keys = await len();
        info.dbSizes.set(db, { keys, expires: await len() });
        break;
      }
      case OP.SLOT_INFO: {
        const slot = await len();
        const keys = await len();
        info.slots.push([slot, keys, await len()]);
        break;
      }
      case OP.AUX: {
        const name = (await whole('an AUX field name')).toString();
        info.aux.push([name, await whole(`the AUX field ${name}`)]);
        break;
      }
      case OP.FUNCTION2:
        info.functions.push(await whole('a function library'));
        break;
      case OP.FUNCTION_PRE_GA:
        throw new RdbUnsupportedError(
          w.file,
          at,
          'a function library in the format of Redis 7.0 release candidates (opcode 0xf6), which Redis 7.0 refuses too',
        );
      case OP.MODULE_AUX:
        await moduleAux(w, info);
        break;
      default:
        throw new RdbUnknownTypeError(w.file, at, op);
    }
  }
}

/** MODULE_AUX: the module id, when it was saved (a UINT opcode, then before/after keys), its data. */
async function moduleAux(w: Window, info: RdbFileInfo): Promise<void> {
  let id: bigint | null;
  while ((id = w.bigLen()) === null) await w.more(w.offset);
  const at = w.offset;
  let whenOpcode: number;
  while ((whenOpcode = w.len()) === NEED) await w.more(w.offset);
  if (whenOpcode !== MODULE_OPCODE_UINT) throw new RdbCorruptError(w.file, at, 'bad MODULE_AUX when-opcode');
  while (w.len() === NEED) await w.more(w.offset);
  const body = skipModuleBody(w);
  while (!body.next().done) await w.more(w.offset);
  info.moduleAux.push(moduleName(id));
}

/** After the EOF opcode: the CRC-64 of every byte before it (0: saved with rdbchecksum no). */
async function checksum(w: Window, info: RdbFileInfo): Promise<void> {
  w.settleCrc();
  const at = w.offset;
  if (info.version >= 5) {
    while (!w.skip(8)) await w.more(w.offset);
    const stored = w.buf.readBigUInt64LE(w.pos - 8);
    const computed = w.crcValue();
    if (stored !== 0n && stored !== computed) throw new RdbChecksumError(w.file, at, stored, computed);
    info.checksum = stored === 0n ? 'absent' : 'ok';
  }
  info.trailingBytes = w.size - w.offset;
  info.windowPeakBytes = w.peakBytes;
}
