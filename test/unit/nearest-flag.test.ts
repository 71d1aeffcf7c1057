import { describe, expect, it } from 'vitest';
import { nearestFlag } from '../../src/cli/nearest-flag.js';

const KNOWN = ['dry-run', 'concurrency', 'batch', 'backup', 'no-backup', 'follow', 'source', 'target'];

describe('nearestFlag: "did you mean" for a mistyped option', () => {
  it.each([
    ['dryrun', 'dry-run'],
    ['dry_run', 'dry-run'],
    ['Dry-Run', 'dry-run'],
    ['concurency', 'concurrency'],
    ['folow', 'follow'],
    ['sorce', 'source'],
    ['nobackup', 'no-backup'],
  ])('%s → %s', (typed, meant) => {
    expect(nearestFlag(typed, KNOWN)).toBe(meant);
  });

  it('suggests nothing for a name far from every option', () => {
    expect(nearestFlag('frobnicate', KNOWN)).toBeUndefined();
    expect(nearestFlag('x', KNOWN)).toBeUndefined();
  });
});
