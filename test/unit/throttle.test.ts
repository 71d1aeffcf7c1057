import { describe, expect, it } from 'vitest';
import { type LatencyProbe, Throttle } from '../../src/run/throttle.js';

const tick = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A clock that only moves when the throttle sleeps (or the test moves it). */
function fakeTime() {
  const time = { now: 0, slept: [] as number[] };
  return {
    time,
    clock: () => time.now,
    sleep: async (ms: number, signal?: AbortSignal) => {
      if (signal?.aborted) throw signal.reason;
      time.slept.push(ms);
      time.now += ms;
    },
  };
}

/** Settles within `ms`? */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await tick(ms);
  return settled;
}

describe('Throttle: --rate (token bucket, SPEC §9.5)', () => {
  it('without a limit, admit() returns at once and keeps no timer', async () => {
    const throttle = new Throttle({});
    const first = throttle.admit(1e9);
    expect(throttle.admit(5)).toBe(first);
    await first;
    expect(throttle.status()).toEqual({
      rate: undefined,
      maxSourceLatencyMs: undefined,
      keysPerSec: 0,
      sources: [],
      waiting: undefined,
    });
    throttle.close();
  });

  it('holds the rate over time, whatever the batch size', async () => {
    const { time, clock, sleep } = fakeTime();
    const throttle = new Throttle({ rate: 1000, clock, sleep });
    let keys = 0;
    for (let i = 0; i < 200; i++) {
      const batch = 10 + ((i * 37) % 90);
      await throttle.admit(batch);
      keys += batch;
    }
    const perSec = keys / (time.now / 1000);
    expect(Math.abs(perSec - 1000) / 1000).toBeLessThan(0.01);
    expect(throttle.status().keysPerSec).toBeGreaterThan(900);
    expect(throttle.status().keysPerSec).toBeLessThan(1100);
  });

  it('lets a batch larger than the rate through once its tokens have accrued (500 at rate 100: 5 s)', async () => {
    const { time, clock, sleep } = fakeTime();
    const throttle = new Throttle({ rate: 100, clock, sleep });
    await throttle.admit(500);
    expect(time.now).toBeCloseTo(5000);
    await throttle.admit(500);
    expect(time.now).toBeCloseTo(10_000);
  });

  it('an idle spell accrues at most one second of keys (or one batch larger than that)', async () => {
    const { time, clock, sleep } = fakeTime();
    const throttle = new Throttle({ rate: 100, clock, sleep });
    time.now += 60_000;
    await throttle.admit(100);
    expect(time.slept).toEqual([]);
    await throttle.admit(100);
    expect(time.slept.reduce((a, b) => a + b, 0)).toBeCloseTo(1000);
  });

  it('concurrent batches wait their turn: keys a second stay at the rate', async () => {
    const throttle = new Throttle({ rate: 2000 });
    const start = performance.now();
    await Promise.all(Array.from({ length: 8 }, () => throttle.admit(100)));
    const elapsed = performance.now() - start;
    // 800 keys at 2000/s from an empty bucket: 400 ms.
    expect(elapsed).toBeGreaterThan(380);
    expect(elapsed).toBeLessThan(600);
  });

  it('an abort rejects with signal.reason, gives the tokens back, and shows no wait any more', async () => {
    const throttle = new Throttle({ rate: 1000 });
    const controller = new AbortController();
    const waiting = throttle.admit(5000, controller.signal);
    await tick(20);
    expect(throttle.status().waiting).toBe('rate 1000 keys/s');
    const reason = new Error('interrupted');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(throttle.status().waiting).toBeUndefined();
    // The 5000 tokens came back: a batch of 10 goes after ~10 ms, not ~5 s.
    const start = performance.now();
    await throttle.admit(10);
    expect(performance.now() - start).toBeLessThan(200);
    // Already aborted: rejects at once.
    await expect(throttle.admit(1, AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it('refuses a rate that is not a positive number', () => {
    expect(() => new Throttle({ rate: 0 })).toThrow(RangeError);
    expect(() => new Throttle({ rate: Number.NaN })).toThrow(RangeError);
  });
});

/** A probe whose ping takes `delay` ms (real timers), counting its pings. */
function slowProbe(label: string, delay = 0) {
  const probe = {
    label,
    delay,
    pings: 0,
    ping: () => {
      probe.pings++;
      return tick(probe.delay);
    },
  };
  return probe;
}

const fast = { probeIntervalMs: 10, windowMs: 300, recheckMs: 10 };

describe('Throttle: --max-source-latency (latency guard, SPEC §9.5)', () => {
  it('waits while a source p99 is over the bound, and goes on once its slow samples age out', async () => {
    const a = slowProbe('a');
    const b = slowProbe('b');
    const throttle = new Throttle({ maxSourceLatencyMs: 30, ...fast }, [a, b]);
    try {
      await tick(50);
      expect(await settlesWithin(throttle.admit(10), 20)).toBe(true);
      b.delay = 80;
      await tick(200);
      const status = throttle.status();
      expect(status.sources.map((s) => s.label)).toEqual(['a', 'b']);
      expect(status.sources[0]!.p99Ms).toBeLessThan(30);
      expect(status.sources[1]!.p99Ms).toBeGreaterThan(30);
      const start = performance.now();
      const admitted = throttle.admit(10);
      expect(await settlesWithin(admitted, 50)).toBe(false);
      expect(throttle.status().waiting).toMatch(/^source b p99 \d+ ms > 30 ms$/);
      b.delay = 0;
      await admitted;
      const waited = performance.now() - start;
      // The last slow sample leaves the 300 ms window.
      expect(waited).toBeGreaterThan(150);
      expect(waited).toBeLessThan(1000);
      expect(throttle.status().waiting).toBeUndefined();
    } finally {
      throttle.close();
    }
  });

  it('counts a ping still outstanding: a blocked source is slow while it is blocked', async () => {
    // The first ping blocks until released, the next ones answer at once.
    let release = () => {};
    const first = new Promise<void>((resolve) => {
      release = resolve;
    });
    let pings = 0;
    const blocked: LatencyProbe = { label: 'b', ping: () => (pings++ === 0 ? first : Promise.resolve()) };
    const throttle = new Throttle({ maxSourceLatencyMs: 30, ...fast }, [blocked]);
    try {
      await tick(60);
      // No ping has answered yet, and still the source is over its bound.
      expect(throttle.status().sources[0]!.p99Ms).toBeGreaterThan(30);
      const admitted = throttle.admit(1);
      expect(await settlesWithin(admitted, 30)).toBe(false);
      release();
      await admitted;
    } finally {
      throttle.close();
    }
  });

  it('a failed ping is a sample, not an unhandled rejection', async () => {
    const failing: LatencyProbe = { label: 'x', ping: () => Promise.reject(new Error('down')) };
    const throttle = new Throttle({ maxSourceLatencyMs: 30, ...fast }, [failing]);
    await tick(40);
    expect(throttle.status().sources[0]!.p99Ms).toBeLessThan(30);
    await throttle.admit(1);
    throttle.close();
  });

  it('an abort while waiting for latency rejects with signal.reason', async () => {
    const b = slowProbe('b', 100);
    const throttle = new Throttle({ maxSourceLatencyMs: 30, ...fast }, [b]);
    try {
      await tick(60);
      const controller = new AbortController();
      const admitted = throttle.admit(1, controller.signal);
      await tick(20);
      controller.abort('stop');
      await expect(admitted).rejects.toBe('stop');
    } finally {
      throttle.close();
    }
  });

  it('one ping at a time per source, and close() stops the pings', async () => {
    const b = slowProbe('b', 50);
    const throttle = new Throttle({ maxSourceLatencyMs: 1000, ...fast }, [b]);
    await tick(160);
    // Every 10 ms a tick, but a ping takes 50 ms: about 4 pings, not 16.
    expect(b.pings).toBeGreaterThanOrEqual(2);
    expect(b.pings).toBeLessThanOrEqual(5);
    throttle.close();
    const pings = b.pings;
    await tick(100);
    expect(b.pings).toBe(pings);
  });

  it('both limits together: latency first, then the tokens', async () => {
    const a = slowProbe('a');
    const throttle = new Throttle({ rate: 1000, maxSourceLatencyMs: 30, ...fast }, [a]);
    try {
      const start = performance.now();
      await throttle.admit(100);
      expect(performance.now() - start).toBeGreaterThan(80);
      const status = throttle.status();
      expect(status.rate).toBe(1000);
      expect(status.maxSourceLatencyMs).toBe(30);
      expect(status.sources).toHaveLength(1);
    } finally {
      throttle.close();
    }
  });
});
