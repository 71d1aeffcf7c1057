import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JournalFile } from '../../src/journal/file.js';
import { FORMAT_VERSION } from '../../src/journal/format.js';
import { openRecords, readRecords } from '../../src/journal/reader.js';
import type { JournalHeader, JournalRecord } from '../../src/journal/types.js';

const header: JournalHeader = {
  kind: 'header',
  format: FORMAT_VERSION,
  tool: 'kvmerge',
  version: 'test',
  target: 'redis://127.0.0.1:1',
  planDigest: 'd',
  runId: 'r',
  startedAt: '2026-01-01T00:00:00.000Z',
};

describe('the journal file', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('keeps every record of concurrent appends, in the order appended, at the offsets it returned', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvmerge-journal-file-'));
    dirs.push(dir);
    const path = join(dir, 'run.journal');
    const file = await JournalFile.create(path, header);
    const written: JournalRecord[] = [];
    const appends: Promise<number[]>[] = [];
    for (let batch = 0; batch < 40; batch++) {
      const befores: JournalRecord[] = Array.from({ length: 1 + (batch % 5) }, (_, i) => ({
        kind: 'before',
        source: batch % 3,
        key: Buffer.from(`k${batch}:${i}`),
        type: 'string',
        prior:
          i === 2 ? { kind: 'dump', payload: Buffer.from([batch, i]), expireAt: null } : { kind: 'absent' },
      }));
      const applied: JournalRecord = {
        kind: 'applied',
        source: batch % 3,
        steps: [[Buffer.from(`k${batch}`), 'string']],
      };
      written.push(...befores, applied);
      // Durable befores from many batches at once (they share fdatasyncs), outcomes riding along.
      appends.push(file.append(befores, true));
      appends.push(file.append([applied], false));
    }
    const offsets = (await Promise.all(appends)).flat();
    await file.close();

    const read: JournalRecord[] = [];
    for await (const record of readRecords(path)) read.push(record);
    expect(read[0]).toEqual(header);
    expect(read.slice(1)).toEqual(written);
    // A record with a frame of its own is read back by its offset.
    const records = await openRecords(path);
    try {
      for (let i = 0; i < written.length; i++) {
        const record = written[i]!;
        if (record.kind === 'before' && record.prior.kind === 'dump') {
          expect(await records.readAt(offsets[i]!, 'before', 'a prior')).toEqual(record);
        }
      }
    } finally {
      await records.close();
    }
  });
});
