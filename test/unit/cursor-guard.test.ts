import { describe, expect, it } from 'vitest';
import { BrokenCursorError, CursorGuard } from '../../src/servers/cursor-guard.js';

/** Feeds cursors to a guard; the 1-based page at which it calls the pass broken, or undefined. */
function brokenAt(
  guard: CursorGuard,
  cursors: string[],
  returned?: number,
  fresh?: (page: number) => number,
) {
  for (const [i, cursor] of cursors.entries()) {
    if (guard.page(cursor, returned, fresh?.(i))) return i + 1;
  }
  return undefined;
}

describe('CursorGuard', () => {
  it('the cycle Pika 3.5 users reported (100, 200, 200, …) is caught within a few pages', () => {
    expect(brokenAt(new CursorGuard(200, 100), ['100', '200', '200', '200', '200'])).toBeLessThanOrEqual(4);
  });

  it('a longer cycle is caught within about twice its length after it begins', () => {
    const cycle = Array.from({ length: 37 }, (_, i) => String((i + 1) * 10));
    const pages = ['5', '7', ...cycle, ...cycle, ...cycle, ...cycle];
    const at = brokenAt(new CursorGuard(), pages);
    expect(at).toBeDefined();
    expect(at!).toBeLessThanOrEqual(2 + 3 * cycle.length);
  });

  it('a sound walk, however long, is never called broken', () => {
    const pages = Array.from({ length: 100_000 }, (_, i) => String(i + 1));
    expect(brokenAt(new CursorGuard(10_000_000, 100), pages, 100, () => 100)).toBeUndefined();
  });

  it('a walk that keeps returning known keys with fresh cursors is broken past many times DBSIZE', () => {
    const guard = new CursorGuard(200, 100);
    const pages = Array.from({ length: 1000 }, (_, i) => String(i + 1));
    // Two pages of new keys, then only repeats: 4 × 200 + 10 × 100 = 1,800 repeats are allowed.
    const at = brokenAt(guard, pages, 100, (page) => (page < 2 ? 100 : 0));
    expect(at).toBe(2 + 19);
  });

  it('repeats around a rehash, followed by new keys, are not a broken cursor', () => {
    const guard = new CursorGuard(1000, 100);
    const pages = Array.from({ length: 200 }, (_, i) => String(i + 1));
    expect(brokenAt(guard, pages, 100, (page) => (page % 10 === 0 ? 0 : 50))).toBeUndefined();
  });

  it('restart() forgets the pass: a walk begun again after a reconnection may give the same cursors', () => {
    const guard = new CursorGuard();
    expect(brokenAt(guard, ['10', '20'])).toBeUndefined();
    guard.restart();
    expect(brokenAt(guard, ['10', '20', '30'])).toBeUndefined();
  });

  it('the error is one line naming the server, the command, the quirk and what to do, and exits 1', () => {
    const err = new BrokenCursorError(
      'source s1 (redis://10.0.0.5:9221/0)',
      'SCAN',
      'cursor 200 came back',
      '',
    );
    expect(err.exitCode).toBe(1);
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(
      /^source s1 \(redis:\/\/10\.0\.0\.5:9221\/0\): SCAN's cursor never returns to 0/,
    );
    expect(err.message).toContain('Pika 3.x');
  });
});
