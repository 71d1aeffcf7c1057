import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, type JournalRecord } from '../../src/journal/format.js';

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
    expect((decoded as { record: JournalRecord }).record).toEqual(record);
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
});
