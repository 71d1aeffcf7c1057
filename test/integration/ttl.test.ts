/**
 * Lifetimes (SPEC §1.5): create and override carry the source's remaining TTL, never a longer one;
 * no TTL stays no TTL; a source key that is gone or expired when it is read is counted `expired` and
 * never replaces or deletes a live target key.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { type ProgressSink, runMerge } from '../../src/index.js';
import { counts } from '../harness/counts.js';
import {
  hash,
  list,
  normalize,
  readValue,
  seed,
  set,
  str,
  stream,
  TYPES,
  type TypeName,
  type Value,
  zset,
} from '../harness/data.js';
import { useServers } from '../harness/merge-servers.js';

const servers = useServers(1);

const VALUES: Record<TypeName, Value> = {
  string: str('v'),
  hash: hash({ f: 'v' }),
  set: set('m'),
  zset: zset(['m', 1]),
  list: list('a', 'b'),
  stream: stream(['1-0', ['f', 'v']]),
};
const OTHER_VALUES: Record<TypeName, Value> = {
  string: str('t'),
  hash: hash({ g: 't' }),
  set: set('t'),
  zset: zset(['t', 2]),
  list: list('t'),
  stream: stream(['5-0', ['t', 't']]),
};
const key = (type: TypeName): string => `k:${type}`;
const MARGIN_MS = 3_000;

/**
 * Reads the source's PTTL first, then the target's. Both servers run on this machine's clock, so a
 * target PTTL above the source's means the target key outlives the source key. `slackMs` tolerates the
 * scheduling noise of a loaded machine; the test "a target slow to take the write …" guards the exact rule.
 */
async function expectCarriedTtl(k: string, slackMs = 250): Promise<void> {
  const source = await servers.s[0]!.pttl(k);
  const target = await servers.t.pttl(k);
  expect(source, `source PTTL of ${k}`).toBeGreaterThan(0);
  expect(target, `target PTTL of ${k} (source ${source})`).toBeLessThanOrEqual(source + slackMs);
  expect(target, `target PTTL of ${k}`).toBeGreaterThan(source - MARGIN_MS);
}

/** Sleeps without yielding to the event loop: the engine cannot move on meanwhile. */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A progress sink that calls `afterFirstBatch` once, when the first batch is done. */
function afterFirstBatch(fn: () => void): ProgressSink {
  let called = false;
  return {
    sourceStarted() {},
    update() {
      if (!called) {
        called = true;
        fn();
      }
    },
    sourceFinished() {},
    stop() {},
  };
}

describe('create and override carry the remaining TTL', () => {
  it.each(['auto', 'dump', 'native'])(
    'create gives every type the source key’s remaining TTL (%s mode)',
    async (mode) => {
      for (const [i, type] of TYPES.entries()) {
        await seed(servers.s[0]!, { [key(type)]: VALUES[type] });
        await servers.s[0]!.pexpire(key(type), 100_000 + i * 50_000);
      }
      const report = await servers.merge({ write: { mode } });
      expect(report.totals).toEqual(counts({ created: 6 }));
      for (const type of TYPES) {
        expect(await readValue(servers.t, key(type))).toEqual(normalize(VALUES[type]));
        await expectCarriedTtl(key(type));
      }
    },
  );

  it.each(['auto', 'dump', 'native'])(
    'override replaces the target’s longer TTL with the source’s (%s mode)',
    async (mode) => {
      for (const type of TYPES) {
        await seed(servers.s[0]!, { [key(type)]: VALUES[type] });
        await seed(servers.t, { [key(type)]: OTHER_VALUES[type] });
        await servers.s[0]!.pexpire(key(type), 100_000);
        await servers.t.pexpire(key(type), 10_000_000);
      }
      const report = await servers.merge({ strategies: { default: 'override' }, write: { mode } });
      expect(report.totals).toEqual(counts({ overridden: 6 }));
      for (const type of TYPES) {
        expect(await readValue(servers.t, key(type))).toEqual(normalize(VALUES[type]));
        await expectCarriedTtl(key(type));
      }
    },
  );

  it.each(['auto', 'dump', 'native'])(
    'a target slow to take the write does not lengthen the lifetime (%s mode)',
    async (mode) => {
      const keys = ['a', 'b', 'c', 'd', 'e'];
      for (const k of keys) {
        await seed(servers.s[0]!, { [k]: str(`value of ${k}`) });
        await servers.s[0]!.pexpire(k, 100_000);
      }
      const plan = servers.plan({ write: { mode, batchSize: 1, concurrency: 1 } });
      // After the first key, the target holds write commands for 400 ms (reads still go through):
      // the next key's value is in flight that much longer than its read took.
      const progress = afterFirstBatch(() => {
        void servers.t.call('CLIENT', 'PAUSE', 400, 'WRITE');
        blockFor(20);
      });
      try {
        const report = await runMerge(plan, { progress });
        expect(report.totals).toEqual(counts({ created: 5 }));
      } finally {
        await servers.t.call('CLIENT', 'UNPAUSE');
      }
      for (const k of keys) await expectCarriedTtl(k, 1);
    },
  );

  it('a key created under a merge strategy carries its TTL too', async () => {
    await seed(servers.s[0]!, { h: hash({ f: 'v' }) });
    await servers.s[0]!.pexpire('h', 100_000);
    const report = await servers.merge({ strategies: { default: 'merge', string: 'skip', stream: 'skip' } });
    expect(report.totals).toEqual(counts({ created: 1 }));
    await expectCarriedTtl('h');
  });

  it.each(['auto', 'dump', 'native'])(
    'no TTL stays no TTL, on create and override (%s mode)',
    async (mode) => {
      for (const type of TYPES) {
        await seed(servers.s[0]!, { [key(type)]: VALUES[type], [`new:${type}`]: VALUES[type] });
        await seed(servers.t, { [key(type)]: OTHER_VALUES[type] });
        await servers.t.pexpire(key(type), 100_000);
      }
      const report = await servers.merge({ strategies: { default: 'override' }, write: { mode } });
      expect(report.totals).toEqual(counts({ overridden: 6, created: 6 }));
      for (const type of TYPES) {
        expect(await servers.t.pttl(key(type)), key(type)).toBe(-1);
        expect(await servers.t.pttl(`new:${type}`), `new:${type}`).toBe(-1);
      }
    },
  );

  it('skip keeps the target’s value and its TTL', async () => {
    await seed(servers.s[0]!, { k: str('source') });
    await seed(servers.t, { k: str('target'), persistent: str('target') });
    await servers.t.pexpire('k', 100_000);
    await servers.s[0]!.pexpire('k', 10_000_000);
    await seed(servers.s[0]!, { persistent: str('source') });
    await servers.s[0]!.pexpire('persistent', 50_000);
    await servers.merge({ strategies: { default: 'skip' } });
    expect(await servers.t.get('k')).toBe('target');
    const ttl = await servers.t.pttl('k');
    expect(ttl).toBeGreaterThan(90_000);
    expect(ttl).toBeLessThanOrEqual(100_000);
    expect(await servers.t.pttl('persistent')).toBe(-1);
  });
});

describe('a source key that is gone when it is read is counted expired', () => {
  const KEYS = ['a', 'b', 'c', 'd', 'e'];

  it.each(['auto', 'dump', 'native'])(
    'a source key deleted after SCAN never deletes or replaces the live target key (%s mode)',
    async (mode) => {
      for (const k of KEYS) {
        await seed(servers.s[0]!, { [k]: hash({ f: 'source' }) });
        await seed(servers.t, { [k]: hash({ f: 'target' }) });
      }
      const plan = servers.plan({
        strategies: { default: 'override' },
        typeMismatch: 'override',
        write: { mode, batchSize: 1, concurrency: 1 },
      });
      // SCAN has returned every key by now (one SCAN call); delete them all on the source.
      const progress = afterFirstBatch(() => {
        execFileSync('redis-cli', ['-p', String(servers.sources[0]!.port), 'DEL', ...KEYS]);
      });
      const report = await runMerge(plan, { progress });
      expect(report.outcome).toBe('done');
      expect(report.totals).toEqual(counts({ overridden: 1, expired: 4 }));
      const values = await Promise.all(KEYS.map((k) => readValue(servers.t, k)));
      // The one key merged before the deletion is the source's; the four others are the target's own.
      expect(
        values.filter((v) => JSON.stringify(v) === JSON.stringify(normalize(hash({ f: 'target' })))),
      ).toHaveLength(4);
      expect(
        values.filter((v) => JSON.stringify(v) === JSON.stringify(normalize(hash({ f: 'source' })))),
      ).toHaveLength(1);
    },
  );

  it.each(['auto', 'dump', 'native'])(
    'a source key whose TTL runs out after SCAN is counted expired and leaves the target key alone (%s mode)',
    async (mode) => {
      for (const k of KEYS) {
        await seed(servers.s[0]!, { [k]: list('source') });
        await seed(servers.t, { [k]: list('target') });
      }
      const seededAt = Date.now();
      for (const k of KEYS) await servers.s[0]!.pexpire(k, 800);
      const plan = servers.plan({
        strategies: { default: 'override' },
        write: { mode, batchSize: 1, concurrency: 1 },
      });
      const progress = afterFirstBatch(() => blockFor(Math.max(0, seededAt + 900 - Date.now())));
      const report = await runMerge(plan, { progress });
      expect(report.outcome).toBe('done');
      expect(report.totals).toEqual(counts({ overridden: 1, expired: 4 }));
      // The expired keys were gone before their type could be read, so only the totals say where they went.
      let live = 0;
      for (const k of KEYS) {
        const value = await readValue(servers.t, k);
        if (value.type === 'none') continue; // the overridden one took the source's 800 ms lifetime
        expect(value).toEqual(normalize(list('target')));
        expect(await servers.t.pttl(k)).toBe(-1);
        live++;
      }
      expect(live).toBe(4);
    },
  );
});
