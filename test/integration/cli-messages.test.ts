/**
 * Messages a user meets on a mistake (issue 18, item 6): one line, the culprit named, the fix
 * suggested, exit 2; and verify's own options and status lines. Each was wrong once: the URL hint came
 * out of the password masker as `user:***@` and `sentinelPassword=***` without its bracket, a missing
 * --backup directory spoke of a lock file and ENOENT, duplicate sources were counted from 0, verify
 * listed and silently took merge-only flags, and --no-progress silenced verify's status lines.
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Output } from '../../src/cli/output.js';
import { parseCommandLine } from '../../src/cli/parser.js';
import { verifyCommand } from '../../src/cli/run-verify.js';
import { kvmerge } from '../harness/cli-run.js';
import { type RedisServer, startRedis } from '../harness/redis.js';

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

describe('user-facing messages', () => {
  it("a bad URL's hint is legible after masking and suggests redis://localhost:6379", async () => {
    const run = await kvmerge([
      '-s',
      'redis://user:s3cret@host:port',
      '-t',
      'redis://localhost:6379',
      '--dry-run',
    ]);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toContain('bad port "port"');
    expect(run.stderr).toContain('redis://localhost:6379');
    expect(run.stderr).toContain('sentinelPassword query parameter');
    // The hint's own placeholders are not mistaken for credentials; the real password never shows.
    expect(run.stderr).not.toContain('s3cret');
    expect(run.stderr).not.toMatch(/\[user:\*\*\*@|sentinelPassword=\*\*\*/);
  });

  it('a URL with a bare password says how to write one, legibly after masking', async () => {
    const run = await kvmerge(['-s', 'redis://hunter2@h', '-t', 'redis://localhost:6379', '--dry-run']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('for a password alone write :PASSWORD@ before the host');
    expect(run.stderr).not.toContain('hunter2');
  });

  it('--backup in a directory that does not exist names the directory, exit 2', async () => {
    const run = await kvmerge([
      '-s',
      'redis://127.0.0.1:1',
      '-t',
      'redis://127.0.0.1:2',
      '--backup',
      '/no/such/dir/j',
    ]);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toEqual([
      'kvmerge: --backup: the directory /no/such/dir of the journal /no/such/dir/j does not exist; create it, or give --backup a path in an existing directory',
    ]);
  });

  it('the same source twice is named by 1-based position', async () => {
    const run = await kvmerge([
      '-s',
      'redis://127.0.0.1:7001',
      '-s',
      'redis://127.0.0.1:7002',
      '-s',
      'redis://127.0.0.1:7001',
      '-t',
      'redis://127.0.0.1:7003',
      '--dry-run',
    ]);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toContain('source 1 and source 3 are the same server');
  });

  it('verify --help lists only the options verify uses', async () => {
    const run = await kvmerge(['verify', '--help']);
    expect(run.code).toBe(0);
    for (const used of [
      '--source',
      '--target',
      '--hash',
      '--sample',
      '--backup',
      '--report',
      '--no-progress',
    ])
      expect(run.stdout).toContain(used);
    for (const mergeOnly of [
      '--resume',
      '--again',
      '--dry-run',
      '--on-error',
      '--follow',
      '--rate',
      '--no-backup',
    ])
      expect(run.stdout).not.toContain(mergeOnly);
  });

  it('verify --resume is refused in one line, exit 2, before any connection', async () => {
    const run = await kvmerge([
      'verify',
      '-s',
      'redis://127.0.0.1:1',
      '-t',
      'redis://127.0.0.1:2',
      '--resume',
    ]);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toEqual([
      'kvmerge: --resume: is an option of merge; verify only reads the target: drop it',
    ]);
  });
});

describe('verify status lines', () => {
  let source: RedisServer;
  let target: RedisServer;
  beforeAll(async () => {
    [source, target] = await Promise.all([startRedis(), startRedis()]);
    await source.client().mset('a', '1', 'b', '2');
    await target.client().mset('a', '1', 'b', '2');
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it.each([
    ['without --no-progress', []],
    ['with --no-progress', ['--no-progress']],
  ])('are printed %s (verify has no bars for it to replace)', async (_what, extra) => {
    const command = await parseCommandLine(['verify', '-s', source.url, '-t', target.url, ...extra]);
    if (command.kind !== 'verify') throw new Error(`parsed as ${command.kind}`);
    const stderr = new PassThrough();
    let text = '';
    stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const out = new Output({ stdout: new PassThrough(), stderr });
    // Every batch's status line (no 5 s wait): what --no-progress must not turn off.
    expect(await verifyCommand(command.flags, out, 0)).toBe(0);
    expect(text).toMatch(/^verify: 2 keys checked, 0 differences so far$/m);
  });
});
