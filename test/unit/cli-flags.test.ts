import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/parser.js';
import { ConfigError } from '../../src/common/errors.js';
import { resolvePlan } from '../../src/config/load.js';
import type { MergePlan } from '../../src/config/plan.js';

// The flags for settings that once only the config file had (--hash-field, --prefix, the timeouts…):
// parsed from a real command line, resolved over a config document, as `kvmerge` does it.

const A = 'redis://127.0.0.1:6379/0';
const B = 'redis://127.0.0.1:6380/0';
const T = 'redis://127.0.0.1:6381/0';

async function planOf(args: string[], doc: unknown = {}): Promise<MergePlan> {
  const command = await parseCommandLine(args);
  if (command.kind !== 'merge') throw new Error(`parsed as ${command.kind}`);
  return resolvePlan(doc, command.flags.overrides, {});
}

async function usageError(args: string[], doc: unknown = {}): Promise<ConfigError> {
  const err = await planOf(args, doc).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).exitCode).toBe(2);
  return err as ConfigError;
}

const servers = ['-s', A, '-s', B, '-t', T];

describe('merge-option flags', () => {
  it('--hash-field, --zset-score, --list-mode and --ttl set the merge options', async () => {
    const plan = await planOf([
      ...servers,
      '--hash-field',
      'target',
      '--zset-score',
      'sum',
      '--list-mode',
      'union',
      '--ttl',
      'min',
    ]);
    expect(plan.merge).toEqual({ hashField: 'target', zsetScore: 'sum', list: 'union', ttl: 'min' });
  });

  it('a merge-option flag wins over the config file, which wins over the default', async () => {
    const doc = { merge: { hashField: 'target', ttl: 'source' } };
    const plan = await planOf([...servers, '--ttl', 'max'], doc);
    expect(plan.merge).toEqual({ hashField: 'target', zsetScore: 'source', list: 'append', ttl: 'max' });
  });

  it.each([
    ['--hash-field', 'left', 'source | target'],
    ['--zset-score', 'avg', 'source | target | max | min | sum'],
    ['--list-mode', 'merge', 'append | prepend | union'],
    ['--ttl', 'forever', 'max | min | source | target'],
  ])('%s %s is refused with the accepted values', async (flag, value, accepted) => {
    const err = await usageError([...servers, flag, value]);
    expect(err.message).toBe(`${flag}: "${value}" is not valid; accepted: ${accepted}`);
  });
});

describe('--prefix', () => {
  it('is per source, in the order of the sources', async () => {
    const plan = await planOf([...servers, '--prefix', 'a:', '--prefix', 'b:']);
    expect(plan.sources.map((s) => s.prefix.toString())).toEqual(['a:', 'b:']);
  });

  it('fewer than the sources: the rest keep their own (the file’s, else none)', async () => {
    const doc = {
      sources: [
        { url: A, prefix: 'fa:' },
        { url: B, prefix: 'fb:' },
      ],
      target: { url: T },
    };
    const plan = await planOf(['--prefix', 'x:'], doc);
    expect(plan.sources.map((s) => s.prefix.toString())).toEqual(['x:', 'fb:']);
  });

  it('more than the sources is refused', async () => {
    const err = await usageError([...servers, '--prefix', 'a', '--prefix', 'b', '--prefix', 'c']);
    expect(err.message).toMatch(/^--prefix: given 3 times for 2 source\(s\); give at most one per source/);
  });
});

describe('size and time flags', () => {
  it('set the write and network settings', async () => {
    const plan = await planOf([
      ...servers,
      '--big-key-elements',
      '500',
      '--big-key-bytes',
      '1048576',
      '--connect-timeout',
      '250',
      '--command-timeout',
      '9000',
      '--retry-budget',
      '1000',
    ]);
    expect(plan.write.bigKeyElements).toBe(500);
    expect(plan.write.bigKeyBytes).toBe(1_048_576);
    expect(plan.network).toEqual({ connectTimeoutMs: 250, commandTimeoutMs: 9000, retryBudgetMs: 1000 });
  });

  it.each([
    ['--big-key-elements', '100000001', 'a positive integer up to 100,000,000'],
    ['--big-key-bytes', '536870913', 'a positive integer up to 536,870,912'],
    ['--connect-timeout', '600001', 'a number of milliseconds from 1 to 600,000'],
    ['--command-timeout', '3600001', 'a number of milliseconds from 1 to 3,600,000'],
    ['--retry-budget', '86400001', 'a number of milliseconds from 1 to 86,400,000'],
    ['--connect-timeout', '0', 'a number of milliseconds from 1 to 600,000'],
    ['--scan-count', '1000001', 'a positive integer up to 1,000,000'],
    ['--follow-interval', '86401', 'a positive integer up to 86,400'],
    ['--follow-max-pending', '100000001', 'a positive integer up to 100,000,000'],
    ['--rate', '100000001', 'a positive integer up to 100,000,000'],
    ['--max-source-latency', '600001', 'a positive integer up to 600,000'],
  ])('%s %s is refused naming the bound', async (flag, value, accepted) => {
    const err = await usageError([...servers, flag, value]);
    expect(err.message).toBe(`${flag}: ${value} is not valid; accepted: ${accepted}`);
  });

  it('a number that is not digits is refused naming the flag', async () => {
    const err = await usageError([...servers, '--command-timeout', '5s']);
    expect(err.message).toMatch(/^--command-timeout: "5s" is not valid/);
  });
});
