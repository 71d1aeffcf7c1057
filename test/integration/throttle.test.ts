/**
 * --rate and --max-source-latency (SPEC §9.5) against a real redis-server: the throttle holds the
 * rate while batches are read, and holds batches while the source is slow (DEBUG SLEEP), until the slow
 * samples have left the window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Throttle } from '../../src/run/throttle.js';
import { type RedisServer, startRedis } from '../harness/redis.js';

const tick = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let server: RedisServer;

beforeAll(async () => {
  server = await startRedis();
  const keys = Array.from({ length: 100 }, (_, i) => [`k${i}`, `v${i}`]).flat();
  await server.client().mset(...keys);
});
afterAll(async () => {
  await server?.stop();
});

describe('throttle against a real server (SPEC §9.5)', () => {
  it('--rate 2000: batches of 100 read for 1.5 s come to 2000 keys/s within 10%', async () => {
    const client = server.client();
    const names = Array.from({ length: 100 }, (_, i) => `k${i}`);
    const throttle = new Throttle({ rate: 2000 });
    const start = performance.now();
    let keys = 0;
    while (performance.now() - start < 1500) {
      await throttle.admit(names.length);
      const values = await client.mget(...names);
      keys += values.length;
    }
    const perSec = keys / ((performance.now() - start) / 1000);
    expect(Math.abs(perSec - 2000) / 2000).toBeLessThan(0.1);
    expect(Math.abs(throttle.status().keysPerSec - 2000) / 2000).toBeLessThan(0.1);
    throttle.close();
  });

  it('--max-source-latency 100: a source in DEBUG SLEEP holds admit() until its slow samples age out', async () => {
    const probeClient = server.client();
    const sleeper = server.client();
    const windowMs = 1500;
    const throttle = new Throttle({ maxSourceLatencyMs: 100, windowMs }, [
      { label: 'src', ping: async () => void (await probeClient.ping()) },
    ]);
    try {
      await tick(500);
      const quick = performance.now();
      await throttle.admit(100);
      expect(performance.now() - quick).toBeLessThan(50);
      expect(throttle.status().sources[0]!.p99Ms).toBeLessThan(100);

      // Three sleeps in a row: the server answers nothing for ~0.9 s.
      const sleeps = (async () => {
        for (let i = 0; i < 3; i++) await sleeper.call('DEBUG', 'SLEEP', '0.3');
        return performance.now();
      })();
      // Failing before the sleeps end must not leave their rejection (the server stopped) unhandled.
      sleeps.catch(() => undefined);
      // A ping is sent within 200 ms of the sleep's start; 350 ms in, it has waited at least 150 ms.
      await tick(350);
      // The ping in flight already counts: over the bound while the server is still asleep.
      expect(throttle.status().sources[0]!.p99Ms).toBeGreaterThan(100);
      let admittedAt: number | undefined;
      const admitted = throttle.admit(100).then(() => {
        admittedAt = performance.now();
      });
      await tick(250);
      expect(admittedAt).toBeUndefined();
      expect(throttle.status().waiting).toMatch(/^source src p99 \d+ ms > 100 ms$/);
      const awake = await sleeps;
      await admitted;
      // Held after the server woke up, until the slow samples left the window, and not much longer.
      expect(admittedAt! - awake).toBeGreaterThan(windowMs - 400);
      expect(admittedAt! - awake).toBeLessThan(windowMs + 1000);
      expect(throttle.status().waiting).toBeUndefined();
      expect(throttle.status().sources[0]!.p99Ms).toBeLessThan(100);
    } finally {
      throttle.close();
    }
  });
});
