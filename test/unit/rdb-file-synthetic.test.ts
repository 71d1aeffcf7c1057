/**
 * The RDB file reader on files built byte by byte, for what no test server writes: module values and
 * MODULE_AUX (no module is loaded in the test servers), EXPIRETIME in seconds (Redis before 2.6),
 * IDLE and FREQ, an LZF-compressed and an integer-encoded key, the 7.0 release candidates' FUNCTION
 * opcode, a file saved without a checksum, bytes after the checksum. The CRC-64 itself against the
 * check value of its definition.
 */
import { describe, expect, it } from 'vitest';
import { Crc64, crc64 } from '../../src/rdb/crc64.js';
import {
  dumpPayload,
  moduleName,
  payloadChunks,
  RdbCorruptError,
  RdbFile,
  type RdbKeyRecord,
  RdbUnsupportedError,
  verifyRdbFile,
} from '../../src/rdb/file/index.js';
import { bytes, len, rdbFile, recordsOf, str } from '../harness/rdb-synthetic.js';

/** A module id: the 9-character name in 6-bit characters, then a 10-bit encoding version. */
function moduleId(name: string, encver: number): Buffer {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let id = 0n;
  for (const c of name) id = (id << 6n) | BigInt(chars.indexOf(c));
  id = (id << 10n) | BigInt(encver);
  const out = Buffer.alloc(9);
  out[0] = 0x81;
  out.writeBigUInt64BE(id, 1);
  return out;
}

/** A module value body: UINT 5, STRING "abc", DOUBLE, FLOAT, SINT 7, EOF. */
const MODULE_BODY = bytes(
  2,
  len(5),
  5,
  str('abc'),
  4,
  Buffer.alloc(8, 1),
  3,
  Buffer.alloc(4, 2),
  1,
  len(7),
  0,
);

describe('CRC-64 (Jones)', () => {
  it('gives the check value for "123456789", the same whole or in pieces', () => {
    expect(crc64(Buffer.from('123456789'))).toBe(0xe9c6d914c4b8d9can);
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff));
    const pieces = new Crc64();
    for (let at = 0; at < data.length; at += 7) pieces.update(data, at, Math.min(at + 7, data.length));
    expect(pieces.value()).toBe(crc64(data));
  });
});

describe('the RDB file reader on built files', () => {
  it('reads a module value (its module named) and MODULE_AUX, and makes the value a DUMP payload', async () => {
    const path = await rdbFile(9, [
      bytes(0xf7, moduleId('mymodule1', 3), len(2), len(2), 5, str('aux data'), 0),
      bytes(0xfe, len(2), 0x07, str('mod:key'), moduleId('mymodule1', 3), MODULE_BODY),
      bytes(0x00, str('after'), str('v')),
    ]);
    const { records, file } = await recordsOf(path);
    expect(file.info.moduleAux).toEqual(['mymodule1']);
    expect(records.map((r) => [r.db, r.key.toString(), r.type, r.module])).toEqual([
      [2, 'mod:key', 'other', 'mymodule1'],
      [2, 'after', 'string', undefined],
    ]);
    const value = Buffer.concat([moduleId('mymodule1', 3), MODULE_BODY]);
    expect(records[0]!.value).toEqual(value);
    const payload = dumpPayload(records[0]!, 9);
    expect(payload.subarray(0, -10)).toEqual(Buffer.concat([Buffer.from([7]), value]));
    expect(payload.readUInt16LE(payload.length - 10)).toBe(9);
    expect(payload.readBigUInt64LE(payload.length - 8)).toBe(crc64(payload.subarray(0, -8)));
    expect(moduleName(value.readBigUInt64BE(1))).toBe('mymodule1');
  });

  it('EXPIRETIME in seconds, IDLE, FREQ and encoded keys belong to the next key only', async () => {
    const seconds = Buffer.alloc(4);
    seconds.writeInt32LE(2_000_000_000);
    const path = await rdbFile(6, [
      bytes(0xfd, seconds, 0x00, str('sec'), str('v')),
      bytes(0xf8, len(4242), 0x00, bytes(0xc3, len(11), len(10), 9, Buffer.from('kkkkkkkkkk')), str('v')),
      bytes(0xf9, 7, 0x00, bytes(0xc0, 0xfb), str('v')),
      bytes(0x00, str('plain'), str('v')),
    ]);
    const { records } = await recordsOf(path);
    expect(records.map((r) => [r.key.toString(), r.expireAtMs, r.idleSeconds, r.freq, r.offset])).toEqual([
      ['sec', 2_000_000_000_000, undefined, undefined, 9],
      ['kkkkkkkkkk', undefined, 4242, undefined, 9 + 5 + 7],
      ['-5', undefined, undefined, 7, 9 + 5 + 7 + 3 + 15 + 2],
      ['plain', undefined, undefined, undefined, 9 + 5 + 7 + 3 + 15 + 2 + 2 + 3 + 2],
    ]);
  });

  it('a file saved without a checksum reads, saying so; bytes after the checksum are counted', async () => {
    const path = await rdbFile(10, [bytes(0x00, str('k'), str('v'))], {
      crc: false,
      trailing: Buffer.from('xyz'),
    });
    const info = await verifyRdbFile(path);
    expect([info.checksum, info.trailingBytes, info.keys]).toEqual(['absent', 3, 1]);
  });

  it('refuses what it cannot walk: the pre-GA FUNCTION opcode, a pre-GA module value, an unknown module opcode', async () => {
    const function0 = await rdbFile(10, [bytes(0x00, str('k'), str('v')), bytes(0xf6, str('lib'))]);
    await expect(verifyRdbFile(function0)).rejects.toThrow(RdbUnsupportedError);
    await expect(verifyRdbFile(function0)).rejects.toThrow(`${function0}: byte 14: a function library`);
    const module6 = await rdbFile(8, [bytes(0x06, str('k'), moduleId('mymodule1', 1), MODULE_BODY)]);
    await expect(verifyRdbFile(module6)).rejects.toThrow(RdbUnsupportedError);
    const badOpcode = await rdbFile(9, [bytes(0x07, str('k'), moduleId('mymodule1', 1), 2, len(1), 9, 0)]);
    await expect(verifyRdbFile(badOpcode)).rejects.toThrow(RdbCorruptError);
    await expect(verifyRdbFile(badOpcode)).rejects.toThrow('unknown module value opcode 9');
  });

  it('big values pass through a window of the threshold: no value held, the payload rebuilt in pieces', async () => {
    const string = Buffer.alloc(3_000_000, 'x');
    const fields = Array.from({ length: 20_000 }, (_, i) => [str(`field-${i}`), str('v'.repeat(90))]).flat();
    const stringValue = str(string);
    const hashValue = Buffer.concat([len(20_000), ...fields]);
    const path = await rdbFile(11, [
      bytes(0x00, str('big:string'), stringValue),
      bytes(0x04, str('big:hash'), hashValue),
      bytes(0x00, str('small'), str('v')),
    ]);
    const file = await RdbFile.open(path, { chunkBytes: 65_536, bigValueBytes: 262_144 });
    const records: RdbKeyRecord[] = [];
    for await (const r of file.records()) records.push(r);
    expect(records.map((r) => [r.key.toString(), r.value === undefined])).toEqual([
      ['big:string', true],
      ['big:hash', true],
      ['small', false],
    ]);
    for (const [record, value] of [
      [records[0]!, stringValue],
      [records[1]!, hashValue],
    ] as const) {
      const pieces: Buffer[] = [];
      for await (const piece of payloadChunks(file, record, 11, 100_000)) pieces.push(piece);
      expect(pieces.length).toBeGreaterThan(10);
      const expected = dumpPayload({ ...record, value }, 11);
      expect(Buffer.concat(pieces).equals(expected)).toBe(true);
    }
    await file.close();
    // Only the hash is kept while it is under the threshold; the string is known big from its length.
    expect(file.info.windowPeakBytes).toBeLessThanOrEqual(262_144 + 2 * 65_536);
  });
});
