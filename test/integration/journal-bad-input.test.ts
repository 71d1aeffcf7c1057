/**
 * Journals that are not what a run wrote, given to `rollback`, `merge --resume` and `verify --backup`
 * (SPEC §4, §6.2): each command exits 2 with one line that names the file, and writes nothing. And the
 * other way round: the same target and sources spelled otherwise (localhost, the user named) are the
 * journal's own, for every command.
 */

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import { MAGIC } from '../../src/journal/format.js';
import { kvmerge } from '../harness/cli-run.js';
import { hash, list, seed, str, zset } from '../harness/data.js';
import { useServers } from '../harness/merge-servers.js';
import { digest } from '../harness/redis.js';
import { fresh } from '../harness/scratch.js';

const PASSWORD = 'Zq9-secret';

/** A frame around any body, with its right checksum: bytes as written, but not a record a run writes. */
function frameOf(body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(body.length, 0);
  head.writeUInt32LE(crc32(body), 4);
  return Buffer.concat([head, body]);
}

describe('journals that are not what a run wrote', () => {
  const servers = useServers(2, { target: { password: PASSWORD } });
  const strategyArgs = ['--on-conflict', 'merge', '--string', 'override', '--stream', 'override'];
  const mergeArgs = (target = servers.target.url, sources = servers.sources.map((s) => s.url)) => [
    ...sources.flatMap((url) => ['-s', url]),
    '-t',
    target,
    ...strategyArgs,
    '--no-progress',
  ];

  async function journalOfARun(): Promise<string> {
    await seed(servers.t, { l: list('t'), h: hash({ a: 't' }), s: str('t') });
    await seed(servers.s[0]!, { l: list('a'), h: hash({ b: 's' }), z: zset(['m', 1]) });
    await seed(servers.s[1]!, { l: list('b'), s: str('s2') });
    const journal = fresh('run.journal');
    const run = await kvmerge([...mergeArgs(), '--backup', journal]);
    expect(run.code, run.stderr).toBe(0);
    return journal;
  }

  it('rollback, --resume and verify: exit 2, one line naming the file, no write', async () => {
    const whole = await readFile(await journalOfARun());
    const headerEnd = MAGIC.length + 8 + whole.readUInt32LE(MAGIC.length);
    const header = JSON.parse(whole.subarray(MAGIC.length + 8, headerEnd).toString());
    const withHeader = (fields: Record<string, unknown>): Buffer =>
      Buffer.concat([MAGIC, frameOf(Buffer.from(JSON.stringify({ ...header, ...fields })))]);
    const damaged = Buffer.from(whole);
    damaged[headerEnd + 9]! ^= 0x01;
    const bad: Record<string, Buffer | 'directory' | 'missing'> = {
      'an empty file': Buffer.alloc(0),
      'random bytes': Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)),
      'the magic line alone': MAGIC,
      'a header cut short': whole.subarray(0, headerEnd - 10),
      'records without their header': Buffer.concat([MAGIC, whole.subarray(headerEnd)]),
      'a newer format': withHeader({ format: 4 }),
      'a format spelled as text': withHeader({ format: '2' }),
      'a header without its target': withHeader({ target: undefined }),
      'a JSON body that is no record': Buffer.concat([MAGIC, frameOf(Buffer.from('null'))]),
      'a record damaged in the middle': damaged,
      'a directory': 'directory',
      'no file': 'missing',
    };
    const before = await digest(servers.target);
    const limit = pLimit(3);
    const runs = Object.entries(bad).flatMap(([what, content]) => {
      const file = fresh('bad.journal');
      const made =
        content === 'directory' ? mkdir(file) : content === 'missing' ? undefined : writeFile(file, content);
      return [
        ['rollback', '--backup', file, '-t', servers.target.url],
        [...mergeArgs(), '--backup', file, '--resume'],
        ['verify', ...mergeArgs(), '--backup', file],
      ].map((args) =>
        limit(async () => {
          await made;
          const run = await kvmerge(args);
          return { what: `${args[0]} with ${what}`, file, ...run };
        }),
      );
    });
    for (const run of await Promise.all(runs)) {
      expect(run.code, `${run.what}: ${run.stderr}`).toBe(2);
      expect(run.stderr, run.what).toMatch(/^kvmerge: [^\n]+\n$/);
      expect(run.stderr, run.what).toContain(run.file);
      expect(run.stderr, run.what).not.toMatch(/internal error|Zq9/);
    }
    expect(await digest(servers.target)).toBe(before);
  }, 240_000);

  it('the same target and sources spelled otherwise belong to the journal; another plan is refused', async () => {
    const journal = await journalOfARun();
    const respell = (url: string) => url.replace('127.0.0.1', 'localhost');
    const target = respell(servers.target.url).replace('//:', '//default:');
    const sources = servers.sources.map((s) => respell(s.url));
    const verified = await kvmerge(['verify', ...mergeArgs(target, sources), '--backup', journal]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stderr).toMatch(/exactly against the journal's prior state/);
    const resumed = await kvmerge([...mergeArgs(target, sources), '--backup', journal, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    // Verify folds the journal's priors with the run's strategies: another plan's journal is refused.
    const other = await kvmerge(['verify', ...mergeArgs(), '--list', 'skip', '--backup', journal]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/^kvmerge: --backup: .* records a run with other sources, strategies/);
    const rolledBack = await kvmerge(['rollback', '--backup', journal, '-t', target]);
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
  }, 120_000);
});
