import { Crc64 } from '../crc64.js';
import type { RdbFile } from './file.js';
import type { RdbKeyRecord } from './records.js';

/**
 * A record as a DUMP payload, what RESTORE takes: `<type byte> <value bytes> <RDB version: 2 bytes
 * LE> <CRC-64 of all before: 8 bytes LE>`. The value bytes of a file and of a payload are the same
 * rdbSaveObject output, so nothing is re-encoded; `rdbVersion` is the one the target accepts (RESTORE
 * refuses a payload newer than itself), by default the file's.
 */
export function dumpPayload(record: RdbKeyRecord, rdbVersion: number): Buffer {
  if (record.value === undefined)
    throw new Error(`dumpPayload: the value at byte ${record.valueOffset} is big; use payloadChunks()`);
  const out = Buffer.allocUnsafe(1 + record.valueSize + 10);
  out[0] = record.valueType;
  record.value.copy(out, 1);
  out.writeUInt16LE(rdbVersion, 1 + record.valueSize);
  const crc = new Crc64().update(out, 0, out.length - 8).bytes();
  crc.copy(out, out.length - 8);
  return out;
}

/** The size of a record's DUMP payload, known before its bytes (a RESP bulk string's header). */
export function payloadSize(record: RdbKeyRecord): number {
  return 1 + record.valueSize + 10;
}

/**
 * The same payload in pieces of at most `windowBytes`, the value re-read from the file, the CRC-64
 * computed on the way: a big value's RESTORE can be sent as a bulk string of payloadSize() bytes
 * without the value ever being held whole.
 */
export async function* payloadChunks(
  file: RdbFile,
  record: RdbKeyRecord,
  rdbVersion: number,
  windowBytes?: number,
): AsyncGenerator<Buffer> {
  const crc = new Crc64();
  const head = Buffer.from([record.valueType]);
  crc.update(head);
  yield head;
  for await (const chunk of file.valueChunks(record, windowBytes)) {
    crc.update(chunk);
    yield chunk;
  }
  const version = Buffer.alloc(2);
  version.writeUInt16LE(rdbVersion, 0);
  crc.update(version);
  yield Buffer.concat([version, crc.bytes()]);
}
