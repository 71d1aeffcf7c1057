import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, kvmerge as runCli } from '../harness/cli-run.js';
import { type RedisServer, startRedis } from '../harness/redis.js';

// The CLI configured from the environment, against real servers that require a password: the password
// stands only in the environment, never in argv, and never shows in any output.

/** Runs the CLI from source with exactly `env` (plus PATH and HOME): nothing of this process leaks in. */
const kvmerge = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> =>
  runCli(args, undefined, { PATH: process.env.PATH, HOME: process.env.HOME, ...env });

const SOURCE_PASSWORD = 'env-src-pass-7c1d';
const TARGET_PASSWORD = 'env-tgt-pass-42ab';
const plainUrl = (s: RedisServer): string => `redis://127.0.0.1:${s.port}/0`;

describe('kvmerge configured from the environment', () => {
  let source: RedisServer;
  let target: RedisServer;
  const state = mkdtempSync(join(tmpdir(), 'kvmerge-env-state-'));

  beforeAll(async () => {
    [source, target] = await Promise.all([
      startRedis({ password: SOURCE_PASSWORD }),
      startRedis({ password: TARGET_PASSWORD }),
    ]);
    await source.client().hset('user:1', { name: 'ada' });
    await source.client().set('greeting', 'hello');
    await target.client().hset('user:1', { plan: 'pro' });
  });

  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  const noPasswordIn = (run: CliRun): void => {
    for (const secret of [SOURCE_PASSWORD, TARGET_PASSWORD]) {
      expect(run.stdout).not.toContain(secret);
      expect(run.stderr).not.toContain(secret);
    }
  };

  it('a merge whose servers, strategies and passwords all come from the environment', async () => {
    const run = await kvmerge(['--no-progress'], {
      KVMERGE_SOURCE: plainUrl(source),
      KVMERGE_TARGET: plainUrl(target),
      KVMERGE_SOURCE_1_PASSWORD: SOURCE_PASSWORD,
      KVMERGE_TARGET_PASSWORD: TARGET_PASSWORD,
      KVMERGE_HASH: 'merge',
      KVMERGE_STATE_DIR: state,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(await target.client().hgetall('user:1')).toEqual({ name: 'ada', plan: 'pro' });
    expect(await target.client().get('greeting')).toBe('hello');
    noPasswordIn(run);
  });

  it('REDISCLI_AUTH serves every server whose URL has no password', async () => {
    const shared = await startRedis({ password: SOURCE_PASSWORD });
    try {
      await source.client().set('only:cli-auth', '1');
      const run = await kvmerge(
        ['-s', plainUrl(source), '-t', plainUrl(shared), '--match', 'only:*', '--no-progress'],
        { REDISCLI_AUTH: SOURCE_PASSWORD, KVMERGE_STATE_DIR: state },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(await shared.client().get('only:cli-auth')).toBe('1');
      noPasswordIn(run);
    } finally {
      await shared.stop();
    }
  });

  it("KVMERGE_TARGET_PASSWORD wins over the URL's own: a wrong one fails authentication, unprinted", async () => {
    const wrong = 'wrong-env-password-913';
    const urlWithRight = `redis://:${TARGET_PASSWORD}@127.0.0.1:${target.port}/0`;
    const run = await kvmerge(['-s', plainUrl(source), '-t', urlWithRight, '--dry-run'], {
      KVMERGE_SOURCE_1_PASSWORD: SOURCE_PASSWORD,
      KVMERGE_TARGET_PASSWORD: wrong,
    });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/authentication failed/i);
    expect(run.stderr).not.toContain(wrong);
    noPasswordIn(run);
  });

  it('--print-config: exit 0, no connection, passwords masked, and -c reads it back to the same plan', async () => {
    const env = {
      KVMERGE_SOURCE: `redis://:${SOURCE_PASSWORD}@127.0.0.1:1/0`,
      KVMERGE_TARGET: 'redis://127.0.0.1:2/0',
      KVMERGE_TARGET_PASSWORD: TARGET_PASSWORD,
      KVMERGE_CONCURRENCY: '3',
      KVMERGE_ZSET_SCORE: 'max',
    };
    const first = await kvmerge(['--print-config', '--prefix', 'a:'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe('');
    expect(first.stdout).toContain('concurrency: 3');
    expect(first.stdout).toContain('zsetScore: max');
    expect(first.stdout).toContain('url: redis://:***@127.0.0.1:1/0');
    noPasswordIn(first);

    const file = join(mkdtempSync(join(tmpdir(), 'kvmerge-env-')), 'printed.yaml');
    writeFileSync(file, first.stdout);
    const again = await kvmerge(['-c', file, '--print-config'], {
      KVMERGE_SOURCE_1_PASSWORD: SOURCE_PASSWORD,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(first.stdout);
  });

  it('a KVMERGE_ variable that names no option: a warning with the nearest one, and the run goes on', async () => {
    const run = await kvmerge(
      ['-s', 'redis://127.0.0.1:1/0', '-t', 'redis://127.0.0.1:2/0', '--print-config'],
      {
        KVMERGE_CONCURENCY: '4',
      },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe(
      'warning: KVMERGE_CONCURENCY names no kvmerge option and is ignored (did you mean KVMERGE_CONCURRENCY?)\n',
    );
    expect(run.stdout).toContain('concurrency: 8');
  });

  it('a bad value in the environment: exit 2, one line naming the variable', async () => {
    const run = await kvmerge(['-s', 'redis://127.0.0.1:1/0', '-t', 'redis://127.0.0.1:2/0'], {
      KVMERGE_DRY_RUN: 'maybe',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'kvmerge: KVMERGE_DRY_RUN: "maybe" is not valid; accepted: 1 | 0 | true | false\n',
    );
  });

  it('--help shows the defaults', async () => {
    const run = await kvmerge(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--concurrency .*\[default: 8\]/);
    expect(run.stdout).toMatch(/--hash-field .*\[default: source\]/);
    expect(run.stdout).toMatch(/--connect-timeout .*\[default: 5000\]/);
  });

  it("the run's first lines: the strategies, and the all-skip warning; none under --quiet", async () => {
    const env = { KVMERGE_SOURCE_1_PASSWORD: SOURCE_PASSWORD, KVMERGE_TARGET_PASSWORD: TARGET_PASSWORD };
    const args = ['-s', plainUrl(source), '-t', plainUrl(target), '--dry-run', '--no-progress'];
    const plain = await kvmerge(args, env);
    expect(plain.code, plain.stderr).toBe(0);
    const lines = plain.stderr.split('\n');
    expect(lines[0]).toBe('strategies: skip for every type · type mismatch: skip');
    expect(lines[1]).toMatch(/^warning: every conflict will be skipped .*--on-conflict override/);

    const merging = await kvmerge(
      [...args, '--on-conflict', 'merge', '--string', 'override', '--stream', 'skip'],
      env,
    );
    expect(merging.code, merging.stderr).toBe(0);
    expect(merging.stderr.split('\n')[0]).toMatch(/^strategies: merge hash \(field: source\), set, zset/);
    expect(merging.stderr).not.toContain('warning:');

    const quiet = await kvmerge([...args, '--quiet'], env);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');

    const checked = await kvmerge(['verify', ...args.filter((a) => a !== '--dry-run')], env);
    expect(checked.stderr.split('\n')[0]).toBe('strategies: skip for every type · type mismatch: skip');
  });

  it('rollback finds the target password in the environment (the journal holds none)', async () => {
    const fresh = await startRedis({ password: TARGET_PASSWORD });
    try {
      await fresh.client().set('greeting', 'before');
      const journal = join(mkdtempSync(join(tmpdir(), 'kvmerge-env-')), 'run.journal');
      const env = { KVMERGE_SOURCE_1_PASSWORD: SOURCE_PASSWORD, KVMERGE_TARGET_PASSWORD: TARGET_PASSWORD };
      const merged = await kvmerge(
        [
          '-s',
          plainUrl(source),
          '-t',
          plainUrl(fresh),
          '--on-conflict',
          'override',
          '--backup',
          journal,
          '--quiet',
        ],
        env,
      );
      expect(merged.code, merged.stderr).toBe(0);
      expect(await fresh.client().get('greeting')).toBe('hello');

      const without = await kvmerge(['rollback', '--backup', journal]);
      expect(without.code).toBe(2);
      expect(without.stderr).toMatch(
        /without its password; give the target with -t URL, or its password in KVMERGE_TARGET_PASSWORD/,
      );

      const undo = await kvmerge(['rollback', '--backup', journal], {
        KVMERGE_TARGET_PASSWORD: TARGET_PASSWORD,
      });
      expect(undo.code, undo.stderr).toBe(0);
      expect(await fresh.client().get('greeting')).toBe('before');
      noPasswordIn(undo);
    } finally {
      await fresh.stop();
    }
  });
});
