/**
 * SPEC §1.2: the result does not depend on concurrency, batch size or write mode. The data set is
 * built so that order matters (list append, zset sum, override by the last source, type mismatches).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hash, list, seed, seedAll, set, str, type Value, zset } from '../harness/data.js';
import { type MergeConfig, type Servers, startServers } from '../harness/merge-servers.js';
import { digest } from '../harness/redis.js';

let servers: Servers;

const KEYS = 120;

/** Holder h (0: target, 1..3: sources) of logical key k: which value, if any. */
function holderValue(h: number, k: number): Value | null {
  if ((k + h) % 4 === 0) return null;
  const n = k * 10 + h;
  switch (k % 6) {
    case 0:
      return list(`a${n}`, `b${n}`);
    case 1:
      return zset(['m', h + 1], [`own${h}`, n]);
    case 2:
      return hash({ common: `${n}`, [`f${h}`]: `${n}` });
    case 3:
      return str(`s${n}`);
    case 4:
      // A type mismatch between holders.
      return h % 2 === 0 ? set(`m${n}`, 'common') : list(`l${n}`);
    default:
      return h === 2 ? str(`s${n}`) : set(`x${n}`);
  }
}

/** The keys holder `h` (0: the target) holds. */
function holderKeys(h: number): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (let k = 0; k < KEYS; k++) {
    const value = holderValue(h, k);
    if (value) out[`k${k}`] = value;
  }
  return out;
}

beforeAll(async () => {
  servers = await startServers(3);
  await seedAll(servers, { sources: servers.s.map((_, i) => holderKeys(i + 1)) });
});
afterAll(async () => {
  await servers?.stop();
});

const CONFIG: MergeConfig = {
  strategies: { default: 'merge', string: 'override', stream: 'skip' },
  typeMismatch: 'override',
  merge: { list: 'append', zsetScore: 'sum', hashField: 'source' },
};

/** Runs the merge into the target reset to its initial data; returns the target's digest and the report. */
async function runWith(write: MergeConfig['write']) {
  await seed(servers.t, holderKeys(0), { flush: true });
  const report = await servers.merge({ ...CONFIG, write });
  expect(report.outcome).toBe('done');
  return { digest: await digest(servers.target), totals: report.totals };
}

describe('the same inputs give the same target (SPEC §1.2)', () => {
  let reference: Awaited<ReturnType<typeof runWith>>;

  beforeAll(async () => {
    reference = await runWith({ concurrency: 1, batchSize: 256 });
  });

  it('the reference run merges, overrides and meets type mismatches, so order matters', () => {
    expect(reference.totals.merged).toBeGreaterThan(50);
    expect(reference.totals.typeMismatch).toBeGreaterThan(10);
    expect(reference.totals.overridden).toBeGreaterThan(10);
  });

  it.each([
    { concurrency: 16, batchSize: 256 },
    { concurrency: 1, batchSize: 1 },
    { concurrency: 16, batchSize: 1 },
    { concurrency: 16, batchSize: 7, scanCount: 10 },
    { concurrency: 16, batchSize: 1, mode: 'native' },
    { concurrency: 4, batchSize: 3, mode: 'dump' },
  ])('write %o gives the same target digest and counters as concurrency 1, batch 256', async (write) => {
    const run = await runWith(write);
    expect(run.digest).toBe(reference.digest);
    expect(run.totals).toEqual(reference.totals);
  });
});
