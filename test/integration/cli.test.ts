import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/demo/local-server.js';
import { digest, type RedisServer, startRedis } from '../harness/redis.js';

const ROOT = join(import.meta.dirname, '../..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI from source in a child process, as a user would run the installed binary. `env` adds to
 * (or, with undefined values, removes from) this process's environment; `onStderr` sees stderr as it
 * arrives, with the child (to send it a signal).
 */
function kvmerge(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  onStderr?: (soFar: string, child: ChildProcess) => void,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', ...args], {
      cwd: ROOT,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function childEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', NO_COLOR: '1', ...extra };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  return env;
}

/** The whole of stderr is one `kvmerge: …` line, and nothing went to stdout. */
function expectOneLineError(run: Run, code: number): string {
  expect(run.code, run.stderr).toBe(code);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^kvmerge: /);
  expect(run.stderr).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack trace
  return lines[0]!;
}

const scratch = mkdtempSync(join(tmpdir(), 'kvmerge-cli-test-'));
const NOWHERE_A = 'redis://127.0.0.1:1/0';
const NOWHERE_B = 'redis://127.0.0.1:2/0';

describe.concurrent('kvmerge command line: usage', () => {
  it('--help exits 0 and shows the options and examples', async () => {
    const run = await kvmerge(['--help']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('--on-conflict');
    expect(run.stdout).toContain('--fail-on-conflict');
    expect(run.stdout).toContain('Examples:');
    expect(run.stdout).toContain('--hash merge --string override --dry-run --report plan.json');
    expect(run.stdout).toContain('kvmerge -c kvmerge.yaml');
    expect(run.stdout).toMatch(/--dry-run --fail-on-conflict/);
  });

  it('a command given by name prints its own --help (its help text is not cached ahead: parser.ts)', async () => {
    for (const command of ['merge', 'verify']) {
      const run = await kvmerge([command, '--help']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^kvmerge ${command}\\b`));
      expect(run.stdout).toContain('--target');
    }
  });

  it("--version prints package.json's version", async () => {
    const run = await kvmerge(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(VERSION);
  });

  it('an unknown flag is one line and exit 2', async () => {
    const line = expectOneLineError(await kvmerge(['--frobnicate']), 2);
    expect(line).toBe('kvmerge: unknown argument: --frobnicate (see kvmerge --help)');
  });

  it('a mistyped flag is one line, exit 2, with the flag it most likely meant', async () => {
    const line = expectOneLineError(await kvmerge(['--dryrun', '-s', NOWHERE_A, '-t', NOWHERE_B]), 2);
    expect(line).toBe('kvmerge: unknown argument: --dryrun (did you mean --dry-run?) (see kvmerge --help)');
  });

  it('an unknown command is one line and exit 2', async () => {
    const line = expectOneLineError(await kvmerge(['mrege', '-s', NOWHERE_A]), 2);
    expect(line).toContain('mrege');
  });

  it('a flag without its value is one line and exit 2', async () => {
    const line = expectOneLineError(await kvmerge(['-t', NOWHERE_B, '-s']), 2);
    expect(line).toContain('--source needs a value');
  });

  it('a bad strategy value names the flag and the accepted values', async () => {
    const line = expectOneLineError(await kvmerge(['-s', NOWHERE_A, '-t', NOWHERE_B, '--hash', 'maybe']), 2);
    expect(line).toContain('--hash');
    expect(line).toContain('"maybe"');
    expect(line).toContain('override | merge | skip');
  });

  it('merge for strings is refused at load time, naming the flag', async () => {
    const line = expectOneLineError(
      await kvmerge(['-s', NOWHERE_A, '-t', NOWHERE_B, '--string', 'merge']),
      2,
    );
    expect(line).toContain('--string');
    expect(line).toContain('override | skip');
  });

  it('a count flag that is not a number is refused', async () => {
    const line = expectOneLineError(
      await kvmerge(['-s', NOWHERE_A, '-t', NOWHERE_B, '--concurrency', 'fast']),
      2,
    );
    expect(line).toContain('--concurrency');
    expect(line).toContain('positive integer');
  });

  it('a switch given a value is refused rather than read as false', async () => {
    const line = expectOneLineError(await kvmerge(['-s', NOWHERE_A, '-t', NOWHERE_B, '--dry-run=maybe']), 2);
    expect(line).toContain('--dry-run');
  });

  it('-t given twice is refused', async () => {
    const line = expectOneLineError(await kvmerge(['-s', NOWHERE_A, '-t', NOWHERE_B, '-t', NOWHERE_A]), 2);
    expect(line).toContain('--target');
  });

  it('a bad value in the config file names the field', async () => {
    const file = join(scratch, 'bad-value.yaml');
    writeFileSync(
      file,
      `sources:\n  - url: ${NOWHERE_A}\ntarget:\n  url: ${NOWHERE_B}\nwrite:\n  concurrency: fast\n`,
    );
    const line = expectOneLineError(await kvmerge(['-c', file]), 2);
    expect(line).toContain('write.concurrency');
    expect(line).toContain('"fast"');
  });

  it('an unknown field in the config file names it', async () => {
    const file = join(scratch, 'bad-field.yaml');
    writeFileSync(
      file,
      `sources:\n  - url: ${NOWHERE_A}\ntarget:\n  url: ${NOWHERE_B}\nstrategy:\n  hash: merge\n`,
    );
    const line = expectOneLineError(await kvmerge(['-c', file]), 2);
    expect(line).toContain('strategy');
  });

  it('a missing config file is one line and exit 2', async () => {
    const file = join(scratch, 'does-not-exist.yaml');
    const line = expectOneLineError(await kvmerge(['-c', file]), 2);
    expect(line).toContain(file);
    expect(line).toContain('no such file');
  });

  it('no source: exit 2, says how to give one', async () => {
    const line = expectOneLineError(await kvmerge(['-t', NOWHERE_B]), 2);
    expect(line).toContain('-s URL');
  });

  it('no target: exit 2, says how to give one', async () => {
    const line = expectOneLineError(await kvmerge(['-s', NOWHERE_A]), 2);
    expect(line).toContain('-t URL');
  });

  it('no arguments at all: exit 2 (merge is the default command)', async () => {
    expectOneLineError(await kvmerge([]), 2);
  });

  it('--fail-on-conflict without --dry-run is refused', async () => {
    const line = expectOneLineError(
      await kvmerge(['-s', NOWHERE_A, '-t', NOWHERE_B, '--fail-on-conflict']),
      2,
    );
    expect(line).toContain('--fail-on-conflict');
    expect(line).toContain('--dry-run');
  });

  it('a source that is the target is refused before any connection', async () => {
    const line = expectOneLineError(await kvmerge(['-s', NOWHERE_A, '-t', 'redis://localhost:1']), 2);
    expect(line).toContain('is the target itself');
  });

  it('a --report path in a missing directory is refused before any connection', async () => {
    const file = join(scratch, 'no-such-dir', 'report.json');
    const line = expectOneLineError(await kvmerge(['-s', NOWHERE_A, '-t', NOWHERE_B, '--report', file]), 2);
    expect(line).toContain('--report');
    expect(line).toContain('no such directory');
  });

  it('a config error never shows the password of a source URL', async () => {
    const run = await kvmerge(['-s', 'redis://:Sup3rSecret!@127.0.0.1:1/0', '-t', NOWHERE_B, '--set', 'x']);
    expectOneLineError(run, 2);
    expect(run.stderr).not.toContain('Sup3rSecret');
  });

  it('verify without sources is one line, exit 2', async () => {
    expect(expectOneLineError(await kvmerge(['verify']), 2)).toContain('no source given');
  });

  it('rollback without a journal, or with a file that is not one: one line naming --backup, exit 2', async () => {
    expect(expectOneLineError(await kvmerge(['rollback']), 2)).toMatch(/^kvmerge: --backup: is required/);
    const notJournal = join(scratch, 'not-a.journal');
    writeFileSync(notJournal, 'hello');
    expect(expectOneLineError(await kvmerge(['rollback', '--backup', notJournal]), 2)).toContain(
      'is not a kvmerge journal',
    );
    expect(expectOneLineError(await kvmerge(['rollback', '--backup', join(scratch, 'none')]), 2)).toContain(
      'no such file',
    );
  });
});

describe('kvmerge command line: servers', () => {
  const PASSWORD = 'correct-horse-battery-staple';
  const SOURCE_PASSWORD = 'src-pass-9f3e1c';
  let a: RedisServer;
  let b: RedisServer;
  let guarded: RedisServer;

  beforeAll(async () => {
    [a, b, guarded] = await Promise.all([
      startRedis({ password: SOURCE_PASSWORD }),
      startRedis(),
      startRedis({ password: PASSWORD }),
    ]);
    await a.client().hset('user:1', { name: 'ada', email: 'ada@example.com' });
    await a.client().set('only:a', '1');
    await b.client().hset('user:1', { name: 'ADA', plan: 'pro' });
    await b.client().set('only:b', '2');
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), guarded?.stop()]);
  });

  /** A fresh target server for one test. */
  async function withTarget(fn: (target: RedisServer) => Promise<void>): Promise<void> {
    const target = await startRedis();
    try {
      await fn(target);
    } finally {
      await target.stop();
    }
  }

  it.concurrent('an unreachable target: exit 2, names the redacted URL, never the password', async () => {
    const port = await freePort();
    const password = 'hunter2-unreachable';
    const run = await kvmerge(['-s', a.url, '-t', `redis://:${password}@127.0.0.1:${port}/0`, '--dry-run']);
    const line = expectOneLineError(run, 2);
    expect(line).toContain(`redis://:***@127.0.0.1:${port}/0`);
    expect(run.stderr).not.toContain(password);
    expect(run.stderr).not.toContain(SOURCE_PASSWORD);
  });

  it.concurrent('a db out of range: exit 2 naming the server and the fix, and the process ends', async () => {
    // "Ends": once the error is printed nothing keeps the process alive (no connection or timer left
    // open). Timed from the error line, not from the start, which a busy machine stretches (tsx).
    let erroredAt = Number.NaN;
    const run = await kvmerge(['-s', `${a.url.replace(/\/0$/, '')}/99`, '-t', b.url, '--dry-run'], {}, () => {
      if (Number.isNaN(erroredAt)) erroredAt = Date.now();
    });
    const line = expectOneLineError(run, 2);
    expect(line).toContain(`source 127.0.0.1:${a.port}/99 redis://:***@127.0.0.1:${a.port}/99`);
    expect(line).toContain('database number is out of range');
    expect(line).not.toContain('internal error');
    expect(run.stderr).not.toContain(SOURCE_PASSWORD);
    expect(Date.now() - erroredAt).toBeLessThan(5_000);
  });

  it.concurrent('--on-error skip: every key the target refuses is in --failed-keys, exit 1 at the end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvmerge-cli-'));
    const failed = join(dir, 'failed.jsonl');
    // maxmemory of 1 byte with noeviction: the target refuses every write with OOM.
    const full = await startRedis({ args: ['--maxmemory', '1', '--maxmemory-policy', 'noeviction'] });
    try {
      const run = await kvmerge(['-s', a.url, '-t', full.url, '--on-error', 'skip', '--failed-keys', failed]);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain('the run failed part-way: 2 key(s) could not be merged');
      const lines = readFileSync(failed, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.key).sort()).toEqual(['only:a', 'user:1']);
      for (const l of lines) expect(l.reason).toMatch(/^OOM /);
      // The summary names them too.
      expect(run.stdout).toMatch(/failed keys:\n {2}"(only:a|user:1)" from 127\.0\.0\.1:\d+\/0: OOM /);
      expect(run.stderr).not.toContain(SOURCE_PASSWORD);
    } finally {
      await full.stop();
    }
  });

  it.concurrent('a wrong password: exit 2, says authentication failed, never prints a password', async () => {
    const wrong = 'not-the-password-42';
    const run = await kvmerge(['-s', a.url, '-t', `redis://:${wrong}@127.0.0.1:${guarded.port}/0`]);
    const line = expectOneLineError(run, 2);
    expect(line).toMatch(/authentication failed/i);
    expect(line).toContain(`127.0.0.1:${guarded.port}`);
    expect(run.stderr).not.toContain(wrong);
    expect(run.stderr).not.toContain(PASSWORD);
    expect(run.stderr).not.toContain(SOURCE_PASSWORD);
  });

  it.concurrent('a dry run with --fail-on-conflict exits 3 when keys conflict, and writes nothing', async () => {
    await withTarget(async (target) => {
      const before = await digest(target);
      const run = await kvmerge([
        '-s',
        a.url,
        '-s',
        b.url,
        '-t',
        target.url,
        '--hash',
        'merge',
        '--dry-run',
        '--fail-on-conflict',
      ]);
      expect(run.code, run.stderr).toBe(3);
      expect(run.stdout).toContain('DRY RUN');
      expect(run.stderr).toMatch(/would conflict/);
      expect(await digest(target)).toBe(before);
      expect(run.stdout + run.stderr).not.toContain(SOURCE_PASSWORD);
    });
  });

  it.concurrent('a dry run with --fail-on-conflict exits 0 when nothing conflicts', async () => {
    await withTarget(async (target) => {
      const run = await kvmerge([
        '-s',
        a.url,
        '-t',
        target.url,
        '--dry-run',
        '--fail-on-conflict',
        '--quiet',
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe('');
    });
  });

  it.concurrent('--json prints only the JSON report on stdout', async () => {
    await withTarget(async (target) => {
      const run = await kvmerge([
        '-s',
        a.url,
        '-s',
        b.url,
        '-t',
        target.url,
        '--hash',
        'merge',
        '--dry-run',
        '--json',
      ]);
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout);
      expect(report.tool).toBe('kvmerge');
      expect(report.version).toBe(VERSION);
      expect(report.dryRun).toBe(true);
      expect(report.totals.scanned).toBe(4);
      expect(report.conflicts.total).toBe(1);
      expect(report.sources.map((s: { url: string }) => s.url)).toEqual([
        `redis://:***@127.0.0.1:${a.port}/0`,
        `redis://127.0.0.1:${b.port}/0`,
      ]);
      expect(run.stdout).not.toContain(SOURCE_PASSWORD);
    });
  });

  it.concurrent('--report writes the JSON report file, without passwords', async () => {
    await withTarget(async (target) => {
      const file = join(scratch, `report-${target.port}.json`);
      const run = await kvmerge(['-s', a.url, '-s', b.url, '-t', target.url, '--dry-run', '--report', file]);
      expect(run.code, run.stderr).toBe(0);
      expect(existsSync(file)).toBe(true);
      const text = readFileSync(file, 'utf8');
      const report = JSON.parse(text);
      expect(report.dryRun).toBe(true);
      expect(report.totals.scanned).toBe(4);
      expect(text).not.toContain(SOURCE_PASSWORD);
    });
  });

  it.concurrent('a real merge exits 0, prints the summary on stdout and merges the hashes', async () => {
    await withTarget(async (target) => {
      const run = await kvmerge([
        '-s',
        a.url,
        '-s',
        b.url,
        '-t',
        target.url,
        '--hash',
        'merge',
        '--no-progress',
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('MERGE');
      expect(run.stdout).toContain('done');
      const c = target.client();
      expect(await c.hgetall('user:1')).toEqual({ name: 'ADA', email: 'ada@example.com', plan: 'pro' });
      expect(await c.get('only:a')).toBe('1');
      expect(await c.get('only:b')).toBe('2');
    });
  });

  it.concurrent('a run stopped by typeMismatch fail exits 1 and still prints the summary', async () => {
    await withTarget(async (target) => {
      await target.client().set('user:1', 'a string where the sources hold a hash');
      const run = await kvmerge(['-s', a.url, '-t', target.url, '--type-mismatch', 'fail', '--no-progress']);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout).toContain('failed');
      expect(run.stderr).toContain('kvmerge: the run failed part-way');
      expect(run.stderr).not.toContain(SOURCE_PASSWORD);
    });
  });

  // 128 + the signal's number, as a shell reports a process the signal ended.
  it.concurrent.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('%s lets the run settle, prints the summary and exits %i', async (name, exitCode) => {
    const big = await startRedis();
    try {
      await big.client().call('DEBUG', 'POPULATE', '300000', 'k');
      await withTarget(async (target) => {
        let sent = false;
        const run = await kvmerge(['-s', big.url, '-t', target.url, '--no-progress'], {}, (soFar, child) => {
          if (!sent && soFar.includes('started')) {
            sent = true;
            setTimeout(() => child.kill(name), 300);
          }
        });
        expect(sent).toBe(true);
        expect(run.code, run.stderr).toBe(exitCode);
        expect(run.stderr).toContain(
          'interrupting: letting in-flight batches finish (Ctrl-C again to force)',
        );
        expect(run.stdout).toContain('interrupted');
        const scanned = Number(/sources: \S+ ([\d,]+)/.exec(run.stdout)?.[1]?.replace(/,/g, ''));
        expect(scanned).toBeLessThan(300_000);
        expect(await target.client().dbsize()).toBe(scanned);
      });
    } finally {
      await big.stop();
    }
  });
});

describe('kvmerge demo', () => {
  it('without redis-server on PATH: one line saying how to install it, exit 2', async () => {
    const run = await kvmerge(['demo'], { PATH: '/nonexistent', KVMERGE_REDIS_SERVER: undefined });
    const line = expectOneLineError(run, 2);
    expect(line).toBe(
      'kvmerge: redis-server not found: install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu) ' +
        'or `brew install redis`',
    );
  });

  it('runs a dry run and a merge on throwaway servers, and stops them', async () => {
    const run = await kvmerge(['demo', '--no-progress']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('DRY RUN');
    expect(run.stdout).toContain('sample conflicts:');
    expect(run.stdout).toContain('MERGE');
    expect(run.stdout).toContain('Before and after');
    expect(run.stdout).toContain('target after   hash { email: ada2000@example.com, name: ADA, plan: team }');
    for (const port of run.stdout.match(/127\.0\.0\.1:(\d+)/g) ?? []) {
      const alive = await new Promise<boolean>((resolve) => {
        const socket = connect(Number(port.split(':')[1]), '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      expect(alive, `a demo server still listens on ${port}`).toBe(false);
    }
  });
});
