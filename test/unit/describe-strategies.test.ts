import { describe, expect, it } from 'vitest';
import { allSkippedWarning, describeStrategies } from '../../src/config/describe-strategies.js';
import { type CliOverrides, resolvePlan } from '../../src/config/load.js';

// The opening line of a run: the effective strategies, compactly, and the warning for the all-skip default.

const plan = (overrides: CliOverrides) =>
  resolvePlan({}, { source: ['redis://127.0.0.1:6379/0'], target: 'redis://127.0.0.1:6380/0', ...overrides });

describe('the strategies line', () => {
  it('the default: one strategy for every type', () => {
    expect(describeStrategies(plan({}))).toBe('strategies: skip for every type · type mismatch: skip');
  });

  it('grouped by strategy, with the merge options of the merging types and the merged TTL', () => {
    const line = describeStrategies(
      plan({
        onConflict: 'merge',
        string: 'override',
        stream: 'skip',
        zsetScore: 'max',
        typeMismatch: 'fail',
      }),
    );
    expect(line).toBe(
      'strategies: merge hash (field: source), set, zset (score: max), list (append) · override string · ' +
        'skip stream, module types · type mismatch: fail · merged TTL: max',
    );
  });

  it('override for every type', () => {
    expect(describeStrategies(plan({ onConflict: 'override' }))).toBe(
      'strategies: override for every type · type mismatch: skip',
    );
  });
});

describe('the all-skip warning', () => {
  it('is given when every conflict will be skipped, and says how to change it', () => {
    const warning = allSkippedWarning(plan({}));
    expect(warning).toMatch(/^warning: every conflict will be skipped/);
    expect(warning).toContain('--on-conflict override');
    expect(warning).toContain('--on-conflict merge --string override --stream override');
  });

  it('is not given when any type, or a type mismatch, can change the target', () => {
    expect(allSkippedWarning(plan({ hash: 'merge' }))).toBeUndefined();
    expect(allSkippedWarning(plan({ typeMismatch: 'override' }))).toBeUndefined();
  });
});
