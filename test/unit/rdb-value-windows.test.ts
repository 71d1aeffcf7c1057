/**
 * Big values read again from an RDB file in windows (src/sources/rdb-value-windows.ts), on files built
 * byte by byte for the encodings no test server writes any more: a linked list (RDB 6, Redis 2.6 to
 * 3.0), a zset with its scores as text (RDB_TYPE_ZSET), a plain string far longer than a window, and a
 * module value, which cannot be read in windows.
 */
import { describe, expect, it } from 'vitest';
import { UnsupportedPayloadError } from '../../src/rdb/error.js';
import type { RdbKeyRecord } from '../../src/rdb/file/index.js';
import { elementCount } from '../../src/rdb/file/index.js';
import { fileValueWindows } from '../../src/sources/rdb-value-windows.js';
import { bytes, len, rdbFile, recordsOf, str } from '../harness/rdb-synthetic.js';

const ELEMENTS = Array.from({ length: 700 }, (_, i) => `element-${i}-${'e'.repeat(i % 13)}`);

async function windows(path: string, record: RdbKeyRecord, fromTail = false): Promise<string[][]> {
  const out: string[][] = [];
  for await (const w of fileValueWindows(path, record, { windowBytes: 500, chunkBytes: 37, fromTail }))
    out.push(w.map((b) => b.toString()));
  return out;
}

describe('a big value of a built RDB file, in windows', () => {
  it('a linked list (type 1): in order, and from the tail by runs of elements', async () => {
    const path = await rdbFile(6, [bytes(0x01, str('list'), len(ELEMENTS.length), ...ELEMENTS.map(str))]);
    const { records } = await recordsOf(path);
    const forward = await windows(path, records[0]!);
    expect(forward.length).toBeGreaterThan(10);
    expect(forward.flat()).toEqual(ELEMENTS);
    const backward = await windows(path, records[0]!, true);
    expect(backward.length).toBeGreaterThan(10);
    // The last window holds the head; each window is in list order, as LRANGE gives it.
    expect(backward.reverse().flat()).toEqual(ELEMENTS);
  });

  it('a zset with text scores (type 3): score, member, …, the infinities included', async () => {
    const scores = ['1.5', '-3', 'inf', '-inf', '0.1'];
    const score = (s: string): Buffer =>
      s === 'nan'
        ? bytes(253)
        : s === 'inf'
          ? bytes(254)
          : s === '-inf'
            ? bytes(255)
            : bytes(s.length, Buffer.from(s));
    const members = Array.from({ length: 300 }, (_, i) => [`m${i}`, scores[i % scores.length]!] as const);
    const body = members.flatMap(([m, s]) => [str(m), score(s)]);
    const path = await rdbFile(6, [bytes(0x03, str('zset'), len(members.length), ...body)]);
    const { records } = await recordsOf(path);
    const flat = (await windows(path, records[0]!)).flat();
    const expected = members.flatMap(([m, s]) => [s, m]);
    expect(flat).toEqual(expected);
  });

  it('a string of 100,000 bytes: chunks of the window size, in order', async () => {
    const value = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff));
    const path = await rdbFile(9, [bytes(0x00, str('s'), str(value))]);
    const { records } = await recordsOf(path);
    const chunks: Buffer[] = [];
    for await (const [chunk] of fileValueWindows(path, records[0]!, { windowBytes: 4096, chunkBytes: 1000 }))
      chunks.push(chunk!);
    expect(chunks.length).toBe(Math.ceil(100_000 / 4096));
    expect(Buffer.concat(chunks).equals(value)).toBe(true);
  });

  it('a module value is refused with the reason', async () => {
    const record: RdbKeyRecord = {
      db: 0,
      key: Buffer.from('m'),
      valueType: 7,
      type: 'other',
      offset: 9,
      valueOffset: 12,
      valueSize: 1,
    };
    const path = await rdbFile(9, [bytes(0x00, str('s'), str('v'))]);
    await expect(windows(path, record)).rejects.toThrow(UnsupportedPayloadError);
  });
});

describe('elementCount', () => {
  it('reads the count a hashtable starts with, and says nothing of a value it cannot read', () => {
    expect(elementCount(4, bytes(len(3), str('f'), str('v')))).toBe(3);
    // A quicklist node cut short: its header cannot be read.
    expect(elementCount(18, bytes(len(1), len(2), str('ab')))).toBeUndefined();
    expect(elementCount(0, str('a string'))).toBeUndefined();
  });
});
