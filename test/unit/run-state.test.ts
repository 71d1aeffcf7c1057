import { describe, expect, it } from 'vitest';
import { RunError } from '../../src/common/errors.js';
import { Limiter } from '../../src/common/limiter.js';
import { SeenKeys } from '../../src/common/seen-keys.js';
import { AbsenceGuess } from '../../src/probe/absence.js';
import { Tally } from '../../src/report/tally.js';
import { keptWalk, RunState, type RunStateInit } from '../../src/run/state.js';

function state(more: Partial<RunStateInit> = {}): RunState {
  return new RunState({
    tally: new Tally(['a', 'b'], 10),
    onError: 'skip',
    targetRestores: true,
    sources: [{ dumps: true }, { dumps: true }],
    absence: new AbsenceGuess(false),
    ...more,
  });
}

describe('RunState: what changes during a run (DESIGN.md seam 6)', () => {
  it('a typeMismatch fail at batch 3 halts batch 3 and later ones, not the batches before it', () => {
    const s = state();
    s.keyFailed({ index: 0, name: 'a' }, Buffer.from('k'), 'string', 'type mismatch at "k"', {
      stops: true,
      at: 3,
    });
    expect(s.stopped?.message).toBe('type mismatch at "k"');
    expect(s.signal.aborted).toBe(true);
    expect([1, 2, 3, 4].map((seq) => s.halted(seq))).toEqual([false, false, true, true]);
    // A batch outside the scan order (a resume's retry) is halted.
    expect(s.halted()).toBe(true);
  });

  it('the first cause wins, with its batch', () => {
    const s = state();
    s.stop(new RunError('first'));
    s.keyFailed({ index: 0, name: 'a' }, Buffer.from('k'), 'string', 'second', { stops: true, at: 3 });
    expect(s.stopped?.message).toBe('first');
    expect(s.halted(1)).toBe(true);
  });

  it('under --on-error skip a failed key is counted and the run goes on; under stop it stops there', () => {
    const skip = state();
    skip.keyFailed({ index: 1, name: 'b' }, Buffer.from('k'), 'hash', 'OOM');
    expect(skip.stopped).toBeUndefined();
    expect(skip.signal.aborted).toBe(false);
    const stop = state({ onError: 'stop' });
    stop.keyFailed({ index: 1, name: 'b' }, Buffer.from('k'), 'hash', 'OOM');
    expect(stop.stopped?.message).toMatch(/^writing "k" from b failed: OOM/);
    expect(stop.halted(0)).toBe(true);
  });

  it("the user's stop aborts the run's signal but is no failure, and does not halt writes in flight", () => {
    const user = new AbortController();
    const s = state({ userSignal: user.signal });
    expect(s.signal.aborted).toBe(false);
    user.abort();
    expect(s.signal.aborted).toBe(true);
    expect(s.interrupted).toBe(true);
    expect(s.stopped).toBeUndefined();
    expect(s.halted(0)).toBe(false);
  });
});

describe('Limiter: bounded concurrency with back-pressure', () => {
  it('never runs more than its bound, and run() returns only once a slot is free', async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const task = () =>
      new Promise<void>((resolve) => {
        running++;
        most = Math.max(most, running);
        releases.push(() => {
          running--;
          resolve();
        });
      });
    await limiter.run(task);
    let third = false;
    const second = limiter.run(task).then(() => {
      third = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(third).toBe(false);
    releases[0]!();
    await second;
    expect(third).toBe(true);
    releases[1]!();
    await limiter.idle();
    expect(most).toBe(2);
  });

  it("a task's failure is thrown by idle()", async () => {
    const limiter = new Limiter(2);
    await limiter.run(async () => {
      throw new Error('boom');
    });
    await expect(limiter.idle()).rejects.toThrow('boom');
  });
});

describe("keptWalk: a dry run's record of an earlier source's keys, within bounds", () => {
  it('keeps a walk of up to 16 MiB of table and lets a larger one go', () => {
    const small = new SeenKeys(1 << 20); // 1M slots: 8 MiB
    small.add(Buffer.from('k'));
    const reads = { dumps: true, walked: small };
    expect(keptWalk(reads)).toBe(small);
    const large = new SeenKeys(1 << 22); // 4M slots: 32 MiB
    const big = { dumps: true, walked: large };
    expect(keptWalk(big)).toBeUndefined();
    expect(big.walked).toBeUndefined();
    expect(keptWalk({ dumps: true })).toBeUndefined();
  });
});
