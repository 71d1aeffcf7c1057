import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/common/limiter.js';

const tick = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('Limiter: one bound for merge, verify and resume', () => {
  it('never runs more than n tasks, and run() returns only once a slot is free', async () => {
    const n = 3;
    const limiter = new Limiter(n);
    let running = 0;
    let most = 0;
    let submitted = 0;
    let finished = 0;
    for (let i = 0; i < 40; i++) {
      submitted++;
      await limiter.run(async () => {
        running++;
        most = Math.max(most, running);
        await tick(1 + ((i * 7) % 5));
        running--;
        finished++;
      });
      // Back-pressure: the producer is never n tasks ahead of what has finished.
      expect(submitted - finished).toBeLessThan(n);
    }
    await limiter.idle();
    expect(finished).toBe(40);
    expect(most).toBeLessThanOrEqual(n);
    // The bound is used, not a slower serial run.
    expect(most).toBe(n);
  });

  it('holds run() while every slot is busy', async () => {
    const limiter = new Limiter(2);
    const releases: (() => void)[] = [];
    const task = () => new Promise<void>((resolve) => releases.push(resolve));
    await limiter.run(task);
    let returned = false;
    const second = limiter.run(task).then(() => {
      returned = true;
    });
    await tick(10);
    expect(returned).toBe(false);
    releases[0]!();
    await second;
    expect(returned).toBe(true);
    releases[1]!();
    await limiter.idle();
  });

  it('throws the first failure from a later run() and from idle(), and starts nothing after it', async () => {
    const limiter = new Limiter(2);
    await limiter.run(async () => {
      await tick(5);
      throw new Error('first');
    });
    await limiter.run(async () => {
      await tick(20);
      throw new Error('second');
    });
    await tick(10);
    let started = false;
    await expect(
      limiter.run(async () => {
        started = true;
      }),
    ).rejects.toThrow('first');
    expect(started).toBe(false);
    await expect(limiter.idle()).rejects.toThrow('first');
  });

  it('a task that throws undefined is a failure too', async () => {
    const limiter = new Limiter(1);
    await limiter.run(() => Promise.reject(undefined));
    await expect(limiter.idle()).rejects.toBeUndefined();
  });
});
