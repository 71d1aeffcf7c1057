/**
 * Makes the journal a crash would have left from a whole run's journal, for resume tests: the
 * `applied` marks and the `sourceDone` of chosen sources are lost. Each such record is overwritten
 * in place by one of the same length that readers ignore, so every other record keeps its offset
 * (a big key's prior state names its windows by offset).
 */
import { writeFile } from 'node:fs/promises';
import { encodeFrame, type JournalRecord, MAGIC } from '../../src/journal/format.js';
import { readRecords } from '../../src/journal/reader.js';

export async function forgetApplied(from: string, to: string, sources: readonly number[]): Promise<void> {
  const frames: Buffer[] = [MAGIC];
  for await (const record of readRecords(from)) {
    const lost =
      (record.kind === 'applied' || record.kind === 'sourceDone') && sources.includes(record.source);
    // 'applied' → 'xpplied', 'sourceDone' → 'xourceDone': the same length, a kind no reader knows.
    const kept = lost
      ? ({ ...record, kind: `x${record.kind.slice(1)}` } as unknown as JournalRecord)
      : record;
    frames.push(encodeFrame(kept));
  }
  await writeFile(to, Buffer.concat(frames));
}
