/**
 * `kvmerge status` (SPEC §11) through the CLI, on journals of real runs: a completed run, one killed
 * part-way (kill -9 during a --rate-limited run) and resumed with the very command status prints, one
 * still at work (stopped with SIGSTOP: its lock is held), a rolled-back run, the state directory's
 * listing, --json, and files that are not journals (exit 2, one line).
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { JournalSummary } from '../../src/journal/summary.js';
import { type CliRun, kvmerge } from '../harness/cli-run.js';
import { useServers } from '../harness/merge-servers.js';
import { fresh } from '../harness/scratch.js';

const ROOT = join(import.meta.dirname, '../..');
const KEYS = 3000;

/** Runs a command line as printed by status, through a shell in which `kvmerge` is this checkout's CLI. */
function shell(command: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const script = `kvmerge() { "${process.execPath}" --import tsx src/cli/entry.ts "$@"; }\n${command}`;
    const child = spawn('sh', ['-c', script], {
      cwd: ROOT,
      env: { ...process.env, CI: 'true', NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function status(...args: string[]): Promise<CliRun> {
  return kvmerge(['status', ...args]);
}

async function statusJson(journal: string): Promise<JournalSummary> {
  const run = await status('--backup', journal, '--json');
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as JournalSummary;
}

/** The line of a status text that starts with `label`, without the label. */
const field = (text: string, label: string): string | undefined =>
  text
    .split('\n')
    .find((l) => l.startsWith(`${label} `))
    ?.slice(label.length)
    .trim();

describe('kvmerge status', () => {
  const servers = useServers(1);
  const original = process.env.KVMERGE_STATE_DIR;
  const merge = (journal: string, ...extra: string[]): string[] => [
    '-s',
    servers.sources[0]!.url,
    '-t',
    servers.target.url,
    '--backup',
    journal,
    '--quiet',
    ...extra,
  ];

  beforeEach(async () => {
    const p = servers.s[0]!.pipeline();
    for (let i = 0; i < KEYS; i++) p.set(`k:${i}`, `v${i}`);
    await p.exec();
  });
  afterAll(() => {
    process.env.KVMERGE_STATE_DIR = original;
  });

  it('a completed run: its plan, every source finished, the keys applied and the command that undoes it', async () => {
    const journal = fresh('done.journal');
    expect((await kvmerge(merge(journal))).code).toBe(0);
    const run = await status('--backup', journal);
    expect(run.code, run.stderr).toBe(0);
    expect(field(run.stdout, 'state')).toMatch(/^completed 20\d\d-/);
    expect(field(run.stdout, 'target')).toBe(`redis://127.0.0.1:${servers.target.port}/0`);
    expect(field(run.stdout, 'sources')).toBe('1 of 1 finished');
    expect(field(run.stdout, 'keys')).toBe(`${KEYS} applied, ${KEYS} journaled`);
    expect(field(run.stdout, 'strategies')).toContain('string skip');
    expect(field(run.stdout, 'undo')).toBe(`kvmerge rollback --backup ${journal}`);
    expect(field(run.stdout, 'resume')).toBeUndefined();

    const json = await statusJson(journal);
    expect(json.state).toBe('completed');
    expect(json.keysApplied).toBe(KEYS);
    expect(json.sources).toEqual([expect.objectContaining({ index: 0, finished: true })]);
    expect(json.plan?.strategies.string).toBe('skip');
    expect(json.resume).toBeUndefined();
  });

  it('an interrupted run (kill -9): the resume command it prints finishes the run', async () => {
    const journal = fresh('killed.journal');
    const killed = await kvmerge(merge(journal, '--rate', '1000'), {
      journal,
      bytes: 20_000,
      signal: 'SIGKILL',
    });
    expect(killed.signal).toBe('SIGKILL');
    const run = await status('--backup', journal);
    expect(run.code, run.stderr).toBe(0);
    expect(field(run.stdout, 'state')).toMatch(/^interrupted/);
    expect(field(run.stdout, 'sources')).toBe('0 of 1 finished');
    const applied = Number(/^(\d+) applied/.exec(field(run.stdout, 'keys') ?? '')?.[1]);
    expect(applied).toBeGreaterThan(0);
    expect(applied).toBeLessThan(KEYS);
    const resume = field(run.stdout, 'resume')!;
    expect(resume).toBe(
      `kvmerge merge -s ${servers.sources[0]!.url} -t ${servers.target.url} --quiet --rate 1000 --backup ${journal} --resume`,
    );
    expect(field(run.stdout, 'undo')).toBe(`kvmerge rollback --backup ${journal}`);

    const resumed = await shell(resume.replace('--rate 1000', ''));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await servers.t.dbsize()).toBe(KEYS);
    const after = await statusJson(journal);
    expect(after.state).toBe('completed');
    expect(after.resumed).toBe(1);
    expect(after.sources[0]!.finished).toBe(true);
  }, 60_000);

  it('a run still at work (its lock held): running, with its pid, and no command offered', async () => {
    const journal = fresh('live.journal');
    let pid = 0;
    const stopped = kvmerge(merge(journal, '--rate', '1000'), {
      journal,
      bytes: 10_000,
      signal: 'SIGSTOP',
      reached: (p) => {
        pid = p;
      },
    });
    await expect.poll(() => pid, { timeout: 30_000 }).toBeGreaterThan(0);
    try {
      const run = await status('--backup', journal);
      expect(run.code, run.stderr).toBe(0);
      expect(field(run.stdout, 'state')).toMatch(
        new RegExp(`^running: pid ${pid} on .* wait for it to end$`),
      );
      expect(field(run.stdout, 'resume')).toBeUndefined();
      expect(field(run.stdout, 'undo')).toBeUndefined();
    } finally {
      process.kill(pid, 'SIGKILL');
      process.kill(pid, 'SIGCONT');
    }
    await stopped;
  }, 60_000);

  it('a rolled-back run: rolled back, no resume, the rollback offered again (safe to repeat)', async () => {
    const journal = fresh('undone.journal');
    expect((await kvmerge(merge(journal))).code).toBe(0);
    const undo = await kvmerge(['rollback', '--backup', journal, '--quiet']);
    expect(undo.code, undo.stderr).toBe(0);
    expect(await servers.t.dbsize()).toBe(0);
    const run = await status('--backup', journal);
    expect(field(run.stdout, 'state')).toMatch(/^rolled back \(a rollback began 20\d\d-/);
    expect(field(run.stdout, 'resume')).toBeUndefined();
    expect(field(run.stdout, 'finish')).toBe(`kvmerge rollback --backup ${journal}`);
    expect((await statusJson(journal)).state).toBe('rolled back');
  });

  it('without --backup: the runs of the state directory, a damaged file among them listed as unreadable', async () => {
    const dir = fresh('state');
    process.env.KVMERGE_STATE_DIR = dir;
    const empty = await status();
    expect(empty.stdout.trim()).toBe(`no runs journaled in ${dir}`);
    const args = merge('unused').filter((a, i, all) => a !== '--backup' && all[i - 1] !== '--backup');
    expect((await kvmerge(args)).code).toBe(0);
    await writeFile(join(dir, 'zz-junk.journal'), 'not a journal\n');

    const run = await status();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^runs journaled in ${dir}, oldest first:$`, 'm'));
    expect(run.stdout).toMatch(/^ {2}20\d\d-\S+ {2}completed {4}\S+ -> redis:\/\/\S+$/m);
    expect(run.stdout).toContain('unreadable: --backup:');

    const json = await status('--json');
    const listing = JSON.parse(json.stdout) as {
      stateDir: string;
      runs: { journal: string; state: string }[];
      unreadable: { journal: string }[];
    };
    expect(listing.stateDir).toBe(dir);
    expect(listing.runs).toHaveLength(1);
    expect(listing.runs[0]!.state).toBe('completed');
    expect(listing.unreadable.map((u) => u.journal)).toEqual([join(dir, 'zz-junk.journal')]);
    expect((await statusJson(listing.runs[0]!.journal)).keysApplied).toBe(KEYS);
  });

  it('a file that is not a journal, or one damaged after the run: one line, exit 2 (JSON with --json)', async () => {
    const foreign = fresh('notes.txt');
    await writeFile(foreign, 'hello\n');
    const run = await status('--backup', foreign);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `kvmerge: --backup: ${foreign} is not a kvmerge journal; give the file that --backup wrote\n`,
    );
    const json = await status('--backup', foreign, '--json');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({
      error: `--backup: ${foreign} is not a kvmerge journal; give the file that --backup wrote`,
      exitCode: 2,
    });

    const journal = fresh('damaged.journal');
    expect((await kvmerge(merge(journal))).code).toBe(0);
    const bytes = await readFile(journal);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(journal, bytes);
    const damaged = await status('--backup', journal);
    expect(damaged.code).toBe(2);
    expect(damaged.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
    expect(damaged.stderr).toContain(`${journal} is damaged`);
  });
});
