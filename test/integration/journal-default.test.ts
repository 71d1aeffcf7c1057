/**
 * The default journal and the rerun guard (SPEC §6.2, §6.3): every real CLI run journals into the state
 * directory unless --no-backup; a plain rerun of a plan whose last run was interrupted, or completed
 * with list append (which would double), stops before any write (exit 2) naming the journal; --resume
 * finds it; --again says the repeat is meant. Each test has a state directory of its own.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { journalBytes, kvmerge } from '../harness/cli-run.js';
import { hash, type Layout, list, seedAll, type Value } from '../harness/data.js';
import { useServers } from '../harness/merge-servers.js';
import { digest } from '../harness/redis.js';

const LISTS = 3000;

/** Lists on the source, half of them on the target too: list append adds the source's elements once. */
const LAYOUT: Layout = (() => {
  const target: Record<string, Value> = {};
  const source: Record<string, Value> = {};
  for (let i = 0; i < LISTS; i++) {
    source[`l:${i}`] = list('a', 'b', 'c');
    if (i % 2 === 0) target[`l:${i}`] = list('t');
    source[`h:${i}`] = hash({ f: `v${i}` });
  }
  return { target, sources: [source] };
})();

async function journals(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.journal')).sort();
}

/** Total list elements on the target: what a doubled append would change. */
async function listElements(t: Redis): Promise<number> {
  const p = t.pipeline();
  for (let i = 0; i < LISTS; i++) p.llen(`l:${i}`);
  const replies = (await p.exec()) ?? [];
  return replies.reduce((sum, [, n]) => sum + Number(n), 0);
}

describe('the default journal and the rerun guard (SPEC §6.2, §6.3)', () => {
  const servers = useServers(1);
  const scratch: string[] = [];
  const original = process.env.KVMERGE_STATE_DIR;
  let state = '';

  beforeEach(async () => {
    // cli-run.ts passes process.env to the CLI: a state directory of this test's own.
    state = await mkdtemp(join(tmpdir(), 'kvmerge-state-test-'));
    scratch.push(state);
    process.env.KVMERGE_STATE_DIR = state;
    await seedAll(servers, LAYOUT);
  });
  afterAll(async () => {
    process.env.KVMERGE_STATE_DIR = original;
    await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  const merge = (...extra: string[]): string[] => [
    '-s',
    servers.sources[0]!.url,
    '-t',
    servers.target.url,
    '--list',
    'merge',
    '--hash',
    'merge',
    '--batch',
    '25',
    '--concurrency',
    '2',
    '--no-progress',
    ...extra,
  ];

  it('a list-append merge killed with kill -9, run again: exit 2 naming the journal, target untouched; --resume gives the uninterrupted result', async () => {
    // The uninterrupted run, for its result and its journal's size.
    const first = await kvmerge(merge('--quiet'));
    expect(first.code, first.stderr).toBe(0);
    const expected = await digest(servers.target);
    const elements = await listElements(servers.t);
    expect(elements).toBe(LISTS * 3 + LISTS / 2);
    const fullBytes = await journalBytes(state);

    await servers.flush();
    await seedAll(servers, LAYOUT);
    const killedState = await mkdtemp(join(tmpdir(), 'kvmerge-state-test-'));
    scratch.push(killedState);
    process.env.KVMERGE_STATE_DIR = killedState;
    const killed = await kvmerge(merge('--quiet'), {
      journal: killedState,
      bytes: Math.floor(fullBytes * 0.4),
      signal: 'SIGKILL',
    });
    expect(killed.signal).toBe('SIGKILL');
    const [journal] = await journals(killedState);
    expect(journal).toBeDefined();
    const partWay = await digest(servers.target);
    expect(partWay).not.toBe(expected);

    // The same command again, as a user who does not know --resume types it.
    const again = await kvmerge(merge());
    expect(again.code, again.stderr).toBe(2);
    expect(again.stderr).toContain(join(killedState, journal!));
    expect(again.stderr).toMatch(/did not complete/);
    expect(again.stderr).toMatch(/--resume/);
    expect(again.stderr).toMatch(/--again/);
    expect(again.stdout).toBe('');
    expect(await digest(servers.target)).toBe(partWay);
    expect(await journals(killedState)).toEqual([journal]);

    // A dry run neither refuses nor journals.
    const dry = await kvmerge(merge('--dry-run', '--quiet'));
    expect(dry.code, dry.stderr).toBe(0);
    expect(await journals(killedState)).toEqual([journal]);

    // --resume finds the interrupted run's journal in the state directory.
    const resumed = await kvmerge(merge('--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming ${join(killedState, journal!)}`);
    expect(await digest(servers.target)).toBe(expected);
    expect(await listElements(servers.t)).toBe(elements);
  }, 120_000);

  it('a completed list-append plan run again stops with exit 2 unless --again, which applies it a second time', async () => {
    const first = await kvmerge(merge());
    expect(first.code, first.stderr).toBe(0);
    const [journal] = await journals(state);
    // The journal is named at the start and in the summary.
    expect(first.stderr).toContain(`journal: ${join(state, journal!)}`);
    expect(first.stdout).toContain(`journal: ${join(state, journal!)}`);
    const after = await digest(servers.target);

    const rerun = await kvmerge(merge());
    expect(rerun.code, rerun.stderr).toBe(2);
    expect(rerun.stderr).toMatch(/already ran to completion/);
    expect(rerun.stderr).toContain(join(state, journal!));
    expect(rerun.stderr).toMatch(/list append/);
    expect(rerun.stderr).toMatch(/--again/);
    expect(await digest(servers.target)).toBe(after);

    const meant = await kvmerge(merge('--again', '--quiet'));
    expect(meant.code, meant.stderr).toBe(0);
    expect(await listElements(servers.t)).toBe(LISTS * 6 + LISTS / 2);
    expect(await journals(state)).toHaveLength(2);
  }, 60_000);

  it('an idempotent completed plan (hash merge, list override, string skip) runs again normally, with a journal of its own', async () => {
    const args = [
      '-s',
      servers.sources[0]!.url,
      '-t',
      servers.target.url,
      '--hash',
      'merge',
      '--list',
      'override',
      '--string',
      'skip',
      '--quiet',
    ];
    const first = await kvmerge(args);
    expect(first.code, first.stderr).toBe(0);
    const after = await digest(servers.target);
    const second = await kvmerge(args);
    expect(second.code, second.stderr).toBe(0);
    expect(await digest(servers.target)).toBe(after);
    expect(await journals(state)).toHaveLength(2);
  }, 60_000);

  it('--no-backup says at the start what a crash costs, and writes no journal', async () => {
    const run = await kvmerge(merge('--no-backup'));
    expect(run.code, run.stderr).toBe(0);
    // The run's opening lines: the strategies, then this note, before anything else happens.
    const lines = run.stderr.split('\n');
    expect(lines[0]).toMatch(/^strategies: /);
    const firstLine = lines.find((l) => !/^(strategies|warning): /.test(l));
    expect(firstLine).toMatch(/no journal \(--no-backup\)/);
    expect(firstLine).toMatch(/cannot be rolled back/);
    expect(firstLine).toMatch(/apply some steps twice/);
    expect(firstLine).toMatch(/list append would double/);
    expect(run.stdout).not.toMatch(/journal:/);
    expect(await journals(state)).toEqual([]);
  }, 60_000);

  // A file system too small for the journal: a 64 KiB tmpfs (needs root and a sandbox that allows mount).
  const small = join(tmpdir(), `kvmerge-small-${process.pid}`);
  let mounted = false;
  try {
    execFileSync('mkdir', ['-p', small]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small], { stdio: 'ignore' });
    mounted = true;
  } catch {
    mounted = false;
  }
  // biome-ignore lint/suspicious/noDuplicateTestHooks: the tmpfs is this block's own, unmounted after its test
  afterAll(() => {
    if (mounted) execFileSync('umount', [small]);
    execFileSync('rm', ['-rf', small]);
  });

  it.skipIf(!mounted)(
    'a journal disk without room for the run: exit 2 before any write, naming the disk and the ways out',
    async () => {
      const dir = join(small, 'state');
      await mkdir(dir, { recursive: true });
      process.env.KVMERGE_STATE_DIR = dir;
      const before = await digest(servers.target);
      const run = await kvmerge(merge());
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`journal's disk \\(${dir}\\) has \\d+ KiB free`));
      expect(run.stderr).toMatch(/--no-backup/);
      expect(await digest(servers.target)).toBe(before);
      expect(await journals(dir)).toEqual([]);
      // The same run with --backup elsewhere, or without a journal, goes through.
      const without = await kvmerge(merge('--no-backup', '--quiet'));
      expect(without.code, without.stderr).toBe(0);
    },
    60_000,
  );
});
