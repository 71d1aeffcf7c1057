/**
 * Resume after a crash (SPEC §6.3): the CLI is killed (kill -9, Ctrl-C) part-way through a merge with
 * --backup, then run again with --resume; the target must equal an uninterrupted run's (DEBUG DIGEST),
 * with list append and zset sum, which would double what the interrupted run applied, and a big key
 * built under a temporary key, which must not be left behind.
 */
import { appendFile, stat, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { readRecords, type ScanEnd } from '../../src/journal/reader.js';
import { kvmerge } from '../harness/cli-run.js';
import { type Layout, list, seedAll, type Value, zset } from '../harness/data.js';
import { overlapping } from '../harness/layouts.js';
import { useServers } from '../harness/merge-servers.js';
import { digest } from '../harness/redis.js';
import { fresh } from '../harness/scratch.js';

const KEYS = 1500;

/** Sources and target sharing lists and zsets (append and sum double on a second application), and a big hash. */
const LAYOUT = overlapping(KEYS, 400);

describe('resume after an interrupted merge (SPEC §6.3)', () => {
  const servers = useServers(2);

  async function config(extra: Record<string, unknown> = {}): Promise<string> {
    const file = fresh('merge.yaml');
    const doc = {
      ...servers.doc({
        strategies: { list: 'merge', zset: 'merge', hash: 'override', string: 'override' },
        merge: { list: 'append', zsetScore: 'sum' },
        write: { batchSize: 25, concurrency: 2, bigKeyElements: 50, bigKeyBytes: 4096 },
      }),
      ...extra,
    };
    await writeFile(file, JSON.stringify(doc));
    return file;
  }

  /** The target after an uninterrupted run, and the size of that run's journal. */
  async function reference(cfg: string): Promise<{ digest: string; journalBytes: number }> {
    await reseed();
    const journal = fresh('reference.journal');
    const run = await kvmerge(['-c', cfg, '--backup', journal, '--quiet']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return { digest: await digest(servers.target), journalBytes: (await stat(journal)).size };
  }

  /** The servers seeded again, as before the reference run: for the run under test. */
  async function reseed(): Promise<void> {
    await servers.flush();
    await seedAll(servers, LAYOUT);
  }

  async function tempKeys(): Promise<number> {
    return (await servers.t.keys('kvmerge-tmp:*')).length;
  }

  /** `kvmerge rollback` with the journal: exit 0, and the target's digest is `expected`. */
  async function expectRollback(journal: string, expected: string): Promise<void> {
    const undo = await kvmerge(['rollback', '--backup', journal, '-t', servers.target.url, '--quiet']);
    expect(undo.code, undo.stderr).toBe(0);
    expect(await digest(servers.target)).toBe(expected);
  }

  it('kill -9 at several points, then --resume: the target equals an uninterrupted run, nothing applied twice', async () => {
    const cfg = await config();
    const ref = await reference(cfg);
    for (const fraction of [0.1, 0.45, 0.8]) {
      await reseed();
      const journal = fresh('killed.journal');
      const killed = await kvmerge(['-c', cfg, '--backup', journal, '--quiet'], {
        journal,
        bytes: Math.floor(ref.journalBytes * fraction),
        signal: 'SIGKILL',
      });
      expect(killed.signal, `killed at ${fraction}`).toBe('SIGKILL');
      // Part-way: the target is neither as before nor as after.
      expect(await digest(servers.target)).not.toBe(ref.digest);
      // Power loss in the middle of an append: the last record is torn (resume cuts it off and goes on).
      if (fraction === 0.45) await appendFile(journal, Buffer.from([0xff, 0x00, 0x00, 0x00, 1, 2, 3]));
      const resumed = await kvmerge(['-c', cfg, '--backup', journal, '--resume', '--no-progress']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/resuming .*killed\.journal: \d source\(s\) finished/);
      expect(await digest(servers.target), `killed at ${fraction}`).toBe(ref.digest);
      expect(await tempKeys()).toBe(0);
      // What the resumed run appended is readable: the torn record was cut off, not written after.
      const end: ScanEnd = { validBytes: 0, torn: false };
      const kinds = new Set<string>();
      for await (const record of readRecords(journal, end)) kinds.add(record.kind);
      expect(end.torn).toBe(false);
      expect(kinds).toContain('resumed');
      expect(kinds).toContain('sourceDone');
    }
  }, 120_000);

  it('kill -9 of a native-mode run, then --resume: the target equals an uninterrupted native run', async () => {
    const cfg = await config();
    const native = ['--mode', 'native'];
    await reseed();
    const refJournal = fresh('native-reference.journal');
    expect((await kvmerge(['-c', cfg, ...native, '--backup', refJournal, '--quiet'])).code).toBe(0);
    const ref = await digest(servers.target);
    await reseed();
    const journal = fresh('native-killed.journal');
    const killed = await kvmerge(['-c', cfg, ...native, '--backup', journal, '--quiet'], {
      journal,
      bytes: Math.floor((await stat(refJournal)).size * 0.5),
      signal: 'SIGKILL',
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(await digest(servers.target)).not.toBe(ref);
    const resumed = await kvmerge(['-c', cfg, ...native, '--backup', journal, '--resume', '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await digest(servers.target)).toBe(ref);
    expect(await tempKeys()).toBe(0);
  }, 60_000);

  it('Ctrl-C (SIGINT), then --resume: the target equals an uninterrupted run; rollback then undoes both', async () => {
    const cfg = await config();
    const ref = await reference(cfg);
    await reseed();
    const seeded = await digest(servers.target);
    const journal = fresh('interrupted.journal');
    const interrupted = await kvmerge(['-c', cfg, '--backup', journal, '--quiet'], {
      journal,
      bytes: Math.floor(ref.journalBytes * 0.4),
      signal: 'SIGINT',
    });
    expect(interrupted.code).toBe(130);
    expect(await digest(servers.target)).not.toBe(ref.digest);
    const resumed = await kvmerge(['-c', cfg, '--backup', journal, '--resume', '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await digest(servers.target)).toBe(ref.digest);
    expect(await tempKeys()).toBe(0);
    // The journal of the interrupted and the resumed run together: rollback gives the seeded target back.
    await expectRollback(journal, seeded);
  }, 60_000);

  it('a killed run rolled back with its journal leaves the target as before, temporary keys included; it cannot be resumed after', async () => {
    const cfg = await config();
    await seedAll(servers, LAYOUT);
    const before = await digest(servers.target);
    const journal = fresh('rolled-back.journal');
    const killed = await kvmerge(['-c', cfg, '--backup', journal, '--quiet'], {
      journal,
      bytes: 60_000,
      signal: 'SIGKILL',
    });
    expect(killed.signal).toBe('SIGKILL');
    await expectRollback(journal, before);
    expect(await tempKeys()).toBe(0);
    // The keys the journal marks applied are back as they were: a resume would skip them.
    const resumed = await kvmerge(['-c', cfg, '--backup', journal, '--resume']);
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toMatch(
      /^kvmerge: --resume: .* records a run that a rollback began to undo .*\n$/,
    );
    expect(await digest(servers.target)).toBe(before);
    await expectRollback(journal, before);
  }, 60_000);

  it('one kvmerge at a time on a journal: a resume or rollback beside a live run is refused; a dead one is taken over', async () => {
    const cfg = await config();
    const ref = await reference(cfg);
    await reseed();
    const journal = fresh('locked.journal');
    let pid = 0;
    // The run stops (SIGSTOP) part-way, as a run on a slow or stalled machine: alive, its journal open.
    const stopped = kvmerge(['-c', cfg, '--backup', journal, '--quiet'], {
      journal,
      bytes: 20_000,
      signal: 'SIGSTOP',
      reached: (p) => {
        pid = p;
      },
    });
    await expect.poll(() => pid, { timeout: 30_000 }).toBeGreaterThan(0);
    try {
      const during = await digest(servers.target);
      const resume = await kvmerge(['-c', cfg, '--backup', journal, '--resume']);
      expect(resume.code).toBe(2);
      expect(resume.stderr).toMatch(
        new RegExp(
          `^kvmerge: --backup: .* is in use by another kvmerge \\(pid ${pid} on .*delete .*locked\\.journal\\.lock\\n$`,
        ),
      );
      const undo = await kvmerge(['rollback', '--backup', journal, '-t', servers.target.url]);
      expect(undo.code).toBe(2);
      expect(undo.stderr).toMatch(/is in use by another kvmerge/);
      expect(await digest(servers.target)).toBe(during);
    } finally {
      // Never left stopped, whatever failed above.
      process.kill(pid, 'SIGCONT');
    }
    const run = await stopped;
    expect(run.code, run.stderr).toBe(0);
    expect(await digest(servers.target)).toBe(ref.digest);
    await expect(stat(`${journal}.lock`)).rejects.toThrow();

    // A run killed with -9 leaves its lock; its process is gone, so a resume takes the lock over.
    await reseed();
    const killedJournal = fresh('killed-lock.journal');
    const killed = await kvmerge(['-c', cfg, '--backup', killedJournal, '--quiet'], {
      journal: killedJournal,
      bytes: 20_000,
      signal: 'SIGKILL',
    });
    expect(killed.signal).toBe('SIGKILL');
    expect((await stat(`${killedJournal}.lock`)).isFile()).toBe(true);
    const resumed = await kvmerge(['-c', cfg, '--backup', killedJournal, '--resume', '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await digest(servers.target)).toBe(ref.digest);
    await expect(stat(`${killedJournal}.lock`)).rejects.toThrow();
  }, 120_000);

  it('keys that failed under --on-error skip (exit 1) are applied by --resume once the cause is fixed, in fold order', async () => {
    const shared = (w: number): Record<string, Value> => {
      const keys: Record<string, Value> = {};
      for (let i = 0; i < 200; i++) {
        keys[`ok:${i}`] = list(`s${w}`);
        keys[`d:${i}`] = list(`s${w}`);
      }
      if (w === 0) keys['d:only-first'] = zset(['m', 1]);
      return keys;
    };
    const SHARED: Layout = { target: { 'd:1': list('target') }, sources: [shared(0), shared(1)] };
    const merging = { strategies: { list: 'merge', zset: 'merge' }, merge: { list: 'append' } };
    await servers.flush();
    await seedAll(servers, SHARED);
    expect((await servers.merge(merging)).outcome).toBe('done');
    const uninterrupted = await digest(servers.target);
    expect(await servers.t.lrange('d:1', 0, -1)).toEqual(['target', 's0', 's1']);

    await servers.flush();
    await seedAll(servers, SHARED);
    // The target user may write ok:* only (and read every key): each d:* step fails with NOPERM.
    await servers.t.call('ACL', 'SETUSER', 'limited', 'reset', 'on', '>pw', '~ok:*', '%R~*', '+@all');
    const limited = servers.target.url.replace('redis://', 'redis://limited:pw@');
    const config = { ...merging, target: { url: limited } };
    const backup = fresh('skip.journal');
    const run = await servers.merge(config, { backup, onError: 'skip' });
    expect(run.outcome).toBe('failed');
    expect(run.totals.failed).toBe(401);
    await servers.t.call('ACL', 'SETUSER', 'limited', '~*');
    const resumed = await servers.merge(config, { backup, resume: true });
    expect(resumed.outcome, resumed.error).toBe('done');
    expect(await digest(servers.target)).toBe(uninterrupted);
    // Nothing is left to retry: a second resume changes nothing.
    expect((await servers.merge(config, { backup, resume: true })).totals.scanned).toBe(0);
    expect(await digest(servers.target)).toBe(uninterrupted);
  }, 60_000);

  it('--resume with another plan or another target is refused (exit 2) and writes nothing', async () => {
    const cfg = await config();
    await seedAll(servers, LAYOUT);
    const journal = fresh('refused.journal');
    const killed = await kvmerge(['-c', cfg, '--backup', journal, '--quiet'], {
      journal,
      bytes: 30_000,
      signal: 'SIGKILL',
    });
    expect(killed.signal).toBe('SIGKILL');
    const before = await digest(servers.target);
    const otherPlan = await kvmerge(['-c', cfg, '--backup', journal, '--resume', '--list', 'skip']);
    expect(otherPlan.code).toBe(2);
    expect(otherPlan.stderr).toMatch(/^kvmerge: --resume: .* other sources, strategies or merge options/);
    const otherTarget = await kvmerge([
      '-c',
      cfg,
      '--backup',
      journal,
      '--resume',
      '-t',
      servers.target.urlFor(3),
    ]);
    expect(otherTarget.code).toBe(2);
    expect(otherTarget.stderr).toMatch(/is the journal of a run into/);
    expect(await digest(servers.target)).toBe(before);
  }, 60_000);
});
