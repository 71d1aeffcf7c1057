/**
 * RDB files built byte by byte, for what no test server writes (tests of src/rdb/file/): the length
 * and string encodings, and a whole file with its EOF opcode and CRC-64.
 */
import { writeFile } from 'node:fs/promises';
import { Crc64 } from '../../src/rdb/crc64.js';
import { RdbFile, type RdbKeyRecord } from '../../src/rdb/file/index.js';
import { fresh } from './scratch.js';

export const len = (n: number): Buffer =>
  n < 64
    ? Buffer.from([n])
    : n < 16384
      ? Buffer.from([0x40 | (n >> 8), n & 0xff])
      : Buffer.concat([Buffer.from([0x80]), u32be(n)]);
export const u32be = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
export const str = (s: string | Buffer): Buffer => Buffer.concat([len(Buffer.byteLength(s)), Buffer.from(s)]);
export const bytes = (...parts: (number | Buffer)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.from([p]) : p)));

/** `REDIS00vv`, the records, EOF, and the CRC-64 of all that (or 0: saved with rdbchecksum no). */
export async function rdbFile(
  version: number,
  records: Buffer[],
  opts: { crc?: boolean; trailing?: Buffer } = {},
) {
  const body = Buffer.concat([
    Buffer.from(`REDIS${String(version).padStart(4, '0')}`),
    ...records,
    bytes(0xff),
  ]);
  const crc = opts.crc === false ? Buffer.alloc(8) : new Crc64().update(body).bytes();
  const path = fresh('synthetic.rdb');
  await writeFile(path, Buffer.concat([body, crc, opts.trailing ?? Buffer.alloc(0)]));
  return path;
}

export async function recordsOf(path: string): Promise<{ records: RdbKeyRecord[]; file: RdbFile }> {
  const file = await RdbFile.open(path, { chunkBytes: 3 });
  const records: RdbKeyRecord[] = [];
  for await (const r of file.records()) records.push(r);
  await file.close();
  return { records, file };
}
