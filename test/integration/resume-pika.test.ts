/**
 * Resume into a Pika 4 target (SPEC §6.3, §7): Pika has no DUMP, so the journal holds native images of
 * the prior states and the put-back writes them with the type's own commands. The CLI is killed with
 * -9 part-way, then run with --resume; the target must equal an uninterrupted run's, with list append
 * and zset sum (which a second application would show) and a big hash copied inside one MULTI.
 */
import { stat, writeFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { readRecords } from '../../src/journal/reader.js';
import { kvmerge } from '../harness/cli-run.js';
import { seedAll, snapshot } from '../harness/data.js';
import { forgetApplied } from '../harness/journal-edit.js';
import { overlapping } from '../harness/layouts.js';
import { useServers } from '../harness/merge-servers.js';
import { fresh } from '../harness/scratch.js';
import { describeServer } from '../harness/servers.js';

const KEYS = 400;

/** Lists and zsets on both sides, strings only in the sources, a big hash (under Pika's pipeline limits). */
const LAYOUT = overlapping(KEYS, 300);

describeServer('pika-4.0.1', 'resume into a Pika 4 target (native images)', () => {
  const servers = useServers(2, { target: { server: 'pika-4.0.1' } });

  it('kill -9 part-way, then --resume: the Pika target equals an uninterrupted run, nothing applied twice', async () => {
    const cfg = fresh('merge.json');
    await writeFile(
      cfg,
      JSON.stringify(
        servers.doc({
          strategies: { list: 'merge', zset: 'merge', hash: 'override', string: 'override' },
          merge: { list: 'append', zsetScore: 'sum' },
          write: { batchSize: 20, concurrency: 2, bigKeyElements: 50 },
        }),
      ),
    );
    await seedAll(servers, LAYOUT);
    const refJournal = fresh('reference.journal');
    const ref = await kvmerge(['-c', cfg, '--backup', refJournal, '--quiet']);
    expect(ref.code, ref.stderr).toBe(0);
    const after = await snapshot(servers.t);
    const refBytes = (await stat(refJournal)).size;
    const kinds = new Set<string>();
    for await (const record of readRecords(refJournal))
      if (record.kind === 'before') kinds.add(record.prior.kind);
    // The big hash (300 fields, over bigKeyElements) in windows, the other keys as whole native images.
    expect([...kinds].sort()).toEqual(['absent', 'native', 'windows']);

    await servers.flush();
    await seedAll(servers, LAYOUT);
    const journal = fresh('killed.journal');
    const killed = await kvmerge(['-c', cfg, '--backup', journal, '--quiet'], {
      journal,
      bytes: Math.floor(refBytes * 0.5),
      signal: 'SIGKILL',
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(await snapshot(servers.t)).not.toEqual(after);
    const resumed = await kvmerge(['-c', cfg, '--backup', journal, '--resume', '--no-progress']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .*killed\.journal/);
    expect(await snapshot(servers.t)).toEqual(after);

    // A crash that lost every `applied` mark of the second source (the target holds all its writes, the
    // journal knows none of them): each of its steps is put back from its native image and applied
    // again, once.
    const crashed = fresh('lost-marks.journal');
    await forgetApplied(refJournal, crashed, [1]);
    const again = await kvmerge(['-c', cfg, '--backup', crashed, '--resume', '--no-progress']);
    expect(again.code, again.stderr).toBe(0);
    const putBack = /1 source\(s\) finished, 0 key\(s\) of the next already applied, (\d+) key\(s\)/.exec(
      again.stderr,
    );
    expect(Number(putBack?.[1])).toBeGreaterThan(KEYS);
    expect(await snapshot(servers.t)).toEqual(after);
  }, 180_000);
});
