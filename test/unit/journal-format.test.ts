import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeFrame,
  encodeApplied,
  encodeBefores,
  encodeFrame,
  encodeFrames,
} from '../../src/journal/format.js';
import type { JournalRecord, PriorState } from '../../src/journal/types.js';

describe('journal frames', () => {
  const record: JournalRecord = {
    kind: 'before',
    source: 1,
    key: Buffer.from([0, 0xff, 0x0a, 0x7b]),
    type: 'zset',
    prior: {
      kind: 'native',
      type: 'zset',
      value: [
        [Buffer.from('m'), Number.POSITIVE_INFINITY],
        [Buffer.from(''), -1.5],
      ],
      expireAt: 1_700_000_000_123,
    },
  };

  it('carries binary keys and values, and infinite scores, unchanged', () => {
    const frame = encodeFrame(record);
    const decoded = decodeFrame(frame, 0);
    expect(decoded).not.toBe('short');
    expect(decoded).not.toBe('bad');
    expect((decoded as { records: JournalRecord[] }).records).toEqual([record]);
    expect((decoded as { end: number }).end).toBe(frame.length);
  });

  it('tells a torn frame (short) from a corrupt one (bad checksum)', () => {
    const frame = encodeFrame(record);
    expect(decodeFrame(frame.subarray(0, frame.length - 1), 0)).toBe('short');
    expect(decodeFrame(frame.subarray(0, 5), 0)).toBe('short');
    const corrupt = Buffer.from(frame);
    corrupt.writeUInt8(corrupt.readUInt8(12) ^ 1, 12);
    expect(decodeFrame(corrupt, 0)).toBe('bad');
  });

  it('writes the records of small keys in binary, and reads them back as they were', () => {
    const key = Buffer.from([0, 0xff, 0x7b, 0x0a]);
    const records: JournalRecord[] = [
      { kind: 'before', source: 0, key, type: 'string', prior: { kind: 'absent' } },
      {
        kind: 'before',
        source: 7,
        key: Buffer.alloc(0),
        type: 'hash',
        prior: { kind: 'dump', payload: Buffer.from([0x10, 0, 0xff]), expireAt: 1_700_000_000_123 },
      },
      {
        kind: 'before',
        source: 2,
        key,
        type: 'list',
        prior: { kind: 'dump', payload: Buffer.alloc(0), expireAt: null },
      },
      {
        kind: 'applied',
        source: 3,
        steps: [
          [key, 'zset'],
          [Buffer.from('k'), 'stream'],
        ],
      },
      { kind: 'applied', source: 1, steps: [] },
    ];
    let offset = 0;
    const frames = Buffer.concat(records.map((r) => encodeFrame(r)));
    for (const record of records) {
      const decoded = decodeFrame(frames, offset) as { records: JournalRecord[]; end: number };
      expect(decoded.records).toEqual([record]);
      // Binary, not JSON: the body starts with a tag below 0x20.
      expect(frames[offset + 8]!).toBeLessThan(0x20);
      offset = decoded.end;
    }
    expect(offset).toBe(frames.length);
    // A binary body whose fields overrun it (a corrupt length with a matching checksum) is bad.
    const frame = encodeFrame(records[0]!);
    frame.writeUInt32LE(1000, 8 + 5);
    frame.writeUInt32LE(crc32(frame.subarray(8)), 4);
    expect(decodeFrame(frame, 0)).toBe('bad');
  });

  it('writes consecutive absent befores of one source as one frame, and reads each record back', () => {
    const absent = (source: number, key: string, type = 'string'): JournalRecord => ({
      kind: 'before',
      source,
      key: Buffer.from(key, 'latin1'),
      type,
      prior: { kind: 'absent' },
    });
    const records: JournalRecord[] = [
      absent(0, 'a'),
      absent(0, '\u0000\u00ff\n', 'hash'),
      absent(0, ''),
      {
        kind: 'before',
        source: 0,
        key: Buffer.from('d'),
        type: 'set',
        prior: { kind: 'dump', payload: Buffer.from([1]), expireAt: null },
      },
      absent(0, 'e'),
      absent(1, 'f'),
      absent(1, 'g', 'zset'),
      // Pika 3.x: an absent type with the name's expiry stays a frame of its own (JSON).
      {
        kind: 'before',
        source: 1,
        key: Buffer.from('h'),
        type: 'list',
        prior: { kind: 'absent', expireAt: 5 },
      },
      { kind: 'applied', source: 1, steps: [[Buffer.from('f'), 'string']] },
    ];
    const { data, offsets } = encodeFrames(records);
    const read: JournalRecord[] = [];
    const at: number[] = [];
    const frames: number[] = [];
    for (let offset = 0; offset < data.length; ) {
      const decoded = decodeFrame(data, offset) as { records: JournalRecord[]; end: number };
      frames.push(decoded.records.length);
      for (const record of decoded.records) {
        read.push(record);
        at.push(offset);
      }
      offset = decoded.end;
    }
    expect(read).toEqual(records);
    expect(at).toEqual(offsets);
    // a, b, c in one frame; d; e alone (a plain before); f, g; h; applied.
    expect(frames).toEqual([3, 1, 1, 2, 1, 1]);
    expect(data[8]).toBe(0x04);
    // A run torn anywhere is short, and one with a flipped byte is bad.
    const first = (decodeFrame(data, 0) as { end: number }).end;
    for (let cut = 1; cut < first; cut++) expect(decodeFrame(data.subarray(0, cut), 0)).toBe('short');
    const corrupt = Buffer.from(data.subarray(0, first));
    corrupt[first - 1]! ^= 1;
    expect(decodeFrame(corrupt, 0)).toBe('bad');
  });

  it("writes the door's befores and applied marks byte for byte as encodeFrames writes their records", () => {
    const prior = fc.oneof(
      fc.constant(undefined), // absent, not asked (a create on the dump path)
      fc.constant<PriorState>({ kind: 'absent' }),
      fc.record({ kind: fc.constant('absent' as const), expireAt: fc.integer({ min: 1, max: 2 ** 40 }) }),
      fc.record({
        kind: fc.constant('dump' as const),
        payload: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
        expireAt: fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: null }),
      }),
    );
    const step = fc.record({
      name: fc.uint8Array({ maxLength: 70 }).map((b) => Buffer.from(b)),
      type: fc.constantFrom('string', 'hash', 'list', 'set', 'zset', 'stream'),
      prior,
    });
    fc.assert(
      fc.property(fc.nat(7), fc.array(step, { maxLength: 40 }), (source, steps) => {
        const priors = steps.map((s) => s.prior as PriorState | undefined);
        const records: JournalRecord[] = steps.map((s) => ({
          kind: 'before',
          source,
          key: s.name,
          type: s.type,
          prior: s.prior ?? { kind: 'absent' },
        }));
        expect(encodeBefores(source, steps, priors)).toEqual(encodeFrames(records).data);
        const applied: JournalRecord = { kind: 'applied', source, steps: steps.map((s) => [s.name, s.type]) };
        expect(encodeApplied(source, steps)).toEqual(encodeFrames([applied]).data);
      }),
    );
  });
});
