/**
 * Makes the journal a crash would have left from a whole run's journal, for resume tests: the
 * `applied` marks and the `sourceDone` of chosen sources are lost. Each such record is overwritten
 * in place by a frame of the same length holding a record of a kind no reader knows (which readers
 * skip), so every other record keeps its offset (a big key's prior state names its windows by offset).
 */
import { writeFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { encodeFrames, MAGIC } from '../../src/journal/format.js';
import { readFrames } from '../../src/journal/reader.js';
import type { JournalRecord } from '../../src/journal/types.js';

export async function forgetApplied(from: string, to: string, sources: readonly number[]): Promise<void> {
  const frames: Buffer[] = [MAGIC];
  // The records of one frame (a run of absent befores shares one) are written back as one frame.
  let frame: JournalRecord[] = [];
  let frameAt = -1;
  const flush = (): void => {
    if (frame.length === 0) return;
    const record = frame[0]!;
    const lost =
      (record.kind === 'applied' || record.kind === 'sourceDone') && sources.includes(record.source);
    const { data } = encodeFrames(frame);
    frames.push(lost ? unknownRecord(data.length) : data);
    frame = [];
  };
  for await (const { record, at } of readFrames(from)) {
    if (at !== frameAt) flush();
    frameAt = at;
    frame.push(record);
  }
  flush();
  await writeFile(to, Buffer.concat(frames));
}

/** A frame of `length` bytes whose body is the JSON record `{"kind":"xx…"}`. */
function unknownRecord(length: number): Buffer {
  const body = Buffer.from(`{"kind":"${'x'.repeat(length - 8 - 11)}"}`);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(body.length, 0);
  head.writeUInt32LE(crc32(body), 4);
  return Buffer.concat([head, body]);
}
