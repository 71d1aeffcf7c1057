/**
 * A damaged RDB file is refused with a typed error whose one-line message names the file and the byte
 * offset, by the pre-read (verifyRdbFile) and by the read of the records alike: a file SAVEd by
 * redis-server 7.0 and then truncated at any offset, a byte flipped anywhere, a type byte replaced,
 * and files that are not RDB files at all.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RdbChecksumError,
  RdbEmptyFileError,
  RdbFile,
  RdbFileError,
  RdbFormatError,
  RdbNotAFileError,
  RdbTruncatedError,
  RdbUnknownTypeError,
  RdbVersionError,
  verifyRdbFile,
} from '../../src/rdb/file/index.js';
import { saveRdb, seedEveryEncoding } from '../harness/rdb-files.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { fresh } from '../harness/scratch.js';

/** Reads every record of `path` (values kept, through a window of `chunkBytes`), answering the error. */
async function readAll(path: string, chunkBytes?: number): Promise<unknown> {
  try {
    const file = await RdbFile.open(path, { chunkBytes, bigValueBytes: 8192 });
    try {
      for await (const _ of file.records());
    } finally {
      await file.close();
    }
  } catch (err) {
    return err;
  }
  return undefined;
}

async function verifyError(path: string, chunkBytes?: number): Promise<unknown> {
  return verifyRdbFile(path, { chunkBytes }).then(
    () => undefined,
    (err: unknown) => err,
  );
}

/** The error is of `kind`, at `offset` (when given), in one line that starts with the file and offset. */
function expectFileError(
  err: unknown,
  path: string,
  kind: abstract new (...args: never[]) => RdbFileError,
  offset?: number,
): void {
  expect(err).toBeInstanceOf(kind);
  const e = err as RdbFileError;
  if (offset !== undefined) expect(e.offset).toBe(offset);
  expect(e.message).toBe(e.message.split('\n')[0]);
  expect(e.message.startsWith(`${path}: byte ${e.offset}: `)).toBe(true);
}

describe('a damaged RDB file', () => {
  let server: RedisServer;
  let good: Buffer;
  let stringValueAt: number;
  let stringRecordAt: number;

  beforeAll(async () => {
    server = await startRedis();
    await seedEveryEncoding(server, false);
    const path = await saveRdb(server, 'good.rdb');
    good = await readFile(path);
    const file = await RdbFile.open(path);
    for await (const record of file.records())
      if (record.key.toString() === 'db0:string:lzf') {
        stringValueAt = record.valueOffset;
        stringRecordAt = record.offset;
      }
    await file.close();
  });
  afterAll(() => server?.stop());

  it('truncated at any offset: RdbTruncatedError at the end of the file, read whole or framed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: good.length - 1 }),
        fc.constantFrom(undefined, 509, 4096),
        fc.boolean(),
        async (length, chunkBytes, framingOnly) => {
          const path = fresh('truncated.rdb');
          await writeFile(path, good.subarray(0, length));
          const err = framingOnly ? await verifyError(path, chunkBytes) : await readAll(path, chunkBytes);
          expectFileError(err, path, RdbTruncatedError, length);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('one byte changed anywhere: an RdbFileError (never a clean read)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: good.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        async (at, mask, framingOnly) => {
          const path = fresh('flipped.rdb');
          const bad = Buffer.from(good);
          bad[at]! ^= mask;
          await writeFile(path, bad);
          const err = framingOnly ? await verifyError(path) : await readAll(path);
          expectFileError(err, path, RdbFileError);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('a byte changed inside a value: RdbChecksumError naming the checksum offset', async () => {
    const path = fresh('flipped-value.rdb');
    const bad = Buffer.from(good);
    bad[stringValueAt + 10]! ^= 0x20;
    await writeFile(path, bad);
    expectFileError(await verifyError(path), path, RdbChecksumError, good.length - 8);
    expect(String(await verifyError(path))).toMatch(/CRC-64 mismatch/);
  });

  it('a type byte that is no type or opcode: RdbUnknownTypeError at that byte', async () => {
    const path = fresh('unknown-type.rdb');
    const bad = Buffer.from(good);
    bad[stringRecordAt] = 0x42;
    await writeFile(path, bad);
    expectFileError(await verifyError(path), path, RdbUnknownTypeError, stringRecordAt);
    expect(String(await readAll(path))).toContain('unknown opcode or value type 0x42');
  });

  it('an empty file, a directory, a missing path: typed errors naming the path', async () => {
    const empty = fresh('empty.rdb');
    await writeFile(empty, '');
    expectFileError(await verifyError(empty), empty, RdbEmptyFileError, 0);
    const dir = fresh('dir.rdb');
    await mkdir(dir);
    expectFileError(await verifyError(dir), dir, RdbNotAFileError, 0);
    expect(String(await verifyError(dir))).toContain('is a directory');
    const missing = fresh('missing.rdb');
    expectFileError(await readAll(missing), missing, RdbNotAFileError, 0);
  });

  it('a file of another format or an unread version: RdbFormatError, RdbVersionError', async () => {
    const foreign: [string, Buffer][] = [
      ['png', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')],
      ['json', Buffer.from('{"keys": ["a", "b"], "values": [1, 2]}\n')],
      ['aof', Buffer.from('*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n')],
      ['bad-digits', Buffer.from('REDISabcd\xff', 'latin1')],
    ];
    for (const [name, bytes] of foreign) {
      const path = fresh(`${name}.rdb`);
      await writeFile(path, bytes);
      expectFileError(await verifyError(path), path, RdbFormatError, 0);
    }
    for (const version of ['0005', '0013', '0080']) {
      const path = fresh(`v${version}.rdb`);
      await writeFile(path, Buffer.concat([Buffer.from(`REDIS${version}`), good.subarray(9)]));
      expectFileError(await verifyError(path), path, RdbVersionError, 5);
    }
  });
});
