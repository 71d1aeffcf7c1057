/**
 * The bench's contenders as its options choose them (bench/options.ts): the bare copy (the floor of a
 * client, issue 20) runs by default on small keys, and never with --big, whose values it cannot carry.
 */
import { describe, expect, it } from 'vitest';
import { parseOptions, UsageError } from '../../bench/options.js';

describe('npm run bench: which contenders run', () => {
  it('the bare copy runs by default, between the dry run and MIGRATE', () => {
    const only = parseOptions([])!.only;
    expect(only).toContain('bare');
    expect(only.indexOf('bare')).toBe(only.indexOf('dry') + 1);
    expect(only.indexOf('migrate')).toBe(only.indexOf('bare') + 1);
  });

  it('--big leaves it out by default and refuses it when named', () => {
    expect(parseOptions(['--big'])!.only).not.toContain('bare');
    expect(parseOptions(['--big'])!.only).toContain('copy');
    expect(() => parseOptions(['--big', '--only', 'copy,bare'])).toThrow(UsageError);
    expect(() => parseOptions(['--big', '--only', 'copy,bare'])).toThrow(/--only bare cannot run with --big/);
  });

  it('--cluster runs only the copy contenders: not the bare copy', () => {
    expect(parseOptions(['--cluster'])!.only).not.toContain('bare');
    expect(() => parseOptions(['--cluster', '--only', 'bare'])).toThrow(UsageError);
  });
});
