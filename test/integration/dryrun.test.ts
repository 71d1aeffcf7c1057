/**
 * The dry run (SPEC §6.1, §5.3): it writes nothing anywhere and reports exactly the counters of the
 * real run on the same data. And a real run only reads its sources (SPEC §1.7).
 */
import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/prng.js';
import {
  hash,
  type Layout,
  list,
  seed,
  seedAll,
  set,
  str,
  stream,
  type Value,
  zset,
} from '../harness/data.js';
import { type MergeConfig, useServers } from '../harness/merge-servers.js';
import { monitor } from '../harness/monitor.js';
import { digest, type RedisServer } from '../harness/redis.js';

const servers = useServers(3);

const MAKERS: ((n: number) => Value)[] = [
  (n) => str(`v${n}`),
  (n) => hash({ [`f${n % 3}`]: `v${n}`, common: `${n}` }),
  (n) => set(`m${n % 4}`, 'common'),
  (n) => zset([`m${n % 4}`, n], ['common', 1]),
  (n) => list(`i${n}`, 'common'),
  (n) => stream([`${n + 1}-0`, ['f', `v${n}`]]),
];

/** The name under which holder `h` (0: target, 1..3: sources) stores logical key `k`. */
type KeyNames = (h: number, k: number) => string;

/**
 * Keys k0..k79 spread over the target and three sources: many held by several of them, often
 * as different types (so later sources meet what earlier ones created, and type mismatches).
 * Types are mostly hash/set/zset/list so that merges happen too.
 */
function mixedLayout(seedValue: number, names: KeyNames = (_h, k) => `k${k}`): Layout {
  const random = prng(seedValue);
  const holders: Record<string, Value>[] = [servers.t, ...servers.s].map(() => ({}));
  for (let k = 0; k < 80; k++) {
    for (const [h, keys] of holders.entries()) {
      if (random() < (h === 0 ? 0.3 : 0.55)) {
        const type = random() < 0.7 ? 1 + (k % 4) : Math.floor(random() * MAKERS.length);
        keys[names(h, k)] = MAKERS[type]!(k * 10 + h);
      }
    }
  }
  const [target, ...sources] = holders;
  return { target, sources };
}

async function digests(list: RedisServer[]): Promise<string[]> {
  return Promise.all(list.map((s) => digest(s)));
}

const CONFIGS: [string, MergeConfig, KeyNames?][] = [
  ['override, typeMismatch override', { strategies: { default: 'override' }, typeMismatch: 'override' }],
  ['skip, typeMismatch skip', { strategies: { default: 'skip' }, typeMismatch: 'skip' }],
  [
    'merge where possible, typeMismatch override',
    {
      strategies: { default: 'merge', string: 'override', stream: 'skip' },
      typeMismatch: 'override',
      merge: { zsetScore: 'sum', list: 'append' },
    },
  ],
  [
    'merge where possible, typeMismatch skip',
    {
      strategies: { default: 'merge', string: 'skip', stream: 'override' },
      typeMismatch: 'skip',
      merge: { list: 'union', hashField: 'target' },
    },
  ],
  [
    'per-source and global match, typeMismatch override',
    {
      strategies: { default: 'merge', string: 'override', stream: 'override' },
      typeMismatch: 'override',
      match: 'k[0-5]*',
      sources: [{ match: 'k1*' }, {}, { match: 'k[2-5]*' }],
    },
  ],
  [
    'prefixes that make sources meet, typeMismatch override',
    {
      strategies: { default: 'override', set: 'merge' },
      typeMismatch: 'override',
      // s1 holds "5" for k5 and s3 holds "5" for k15 (prefix "k1"): they meet the others on the target.
      sources: [{ prefix: 'k' }, {}, { prefix: 'k1' }],
    },
    (h, k) => (h === 1 ? `${k}` : h === 3 && k >= 10 && k < 20 ? `${k - 10}` : `k${k}`),
  ],
];

describe('a dry run reports what the real run does', () => {
  it.each(CONFIGS)(
    'same counters as the real run, and the target untouched (%s)',
    async (_name, config, names) => {
      await seedAll(servers, mixedLayout(0xfeed, names));
      const targetBefore = await digest(servers.target);
      const sourcesBefore = await digests(servers.sources);

      const dry = await servers.merge(config, { dryRun: true });
      expect(dry.dryRun).toBe(true);
      expect(await digest(servers.target)).toBe(targetBefore);

      const real = await servers.merge(config);
      expect(real.dryRun).toBe(false);
      expect(real.outcome).toBe('done');
      // The data set must exercise what the dry run has to predict.
      expect(real.totals.typeMismatch).toBeGreaterThan(0);
      expect(real.totals.sourceOverlap).toBeGreaterThan(0);
      expect(real.totals.created).toBeGreaterThan(0);
      expect(real.totals.overridden + real.totals.merged + real.totals.skipped).toBeGreaterThan(10);

      expect(dry.totals).toEqual(real.totals);
      expect(dry.byType).toEqual(real.byType);
      expect(dry.conflicts.total).toBe(real.conflicts.total);
      expect(dry.sources).toEqual(real.sources);
      // A real run only reads its sources (SPEC §1.7).
      expect(await digests(servers.sources)).toEqual(sourcesBefore);
      expect(await digest(servers.target)).not.toBe(targetBefore);
    },
  );

  it('typeMismatch fail: the dry run counts every mismatch as failed and scans every key', async () => {
    await seed(servers.t, { a: str('t') });
    await seed(servers.s[0]!, { a: hash({ f: 'v' }), b: str('s1') });
    await seed(servers.s[1]!, { b: list('x'), c: set('y') });
    await seed(servers.s[2]!, { c: zset(['z', 1]), d: str('s3') });
    const before = await digest(servers.target);
    const dry = await servers.merge({ typeMismatch: 'fail' }, { dryRun: true });
    expect(await digest(servers.target)).toBe(before);
    expect(dry.totals.failed).toBe(3);
    expect(dry.totals.typeMismatch).toBe(3);
    expect(dry.totals.created).toBe(3);
    expect(dry.totals.scanned).toBe(6);
    expect(dry.sources.map((s) => s.scanned)).toEqual([2, 2, 2]);
  });
});

/** Records every command a server receives (MONITOR), and which of them are write commands. */
async function watch(server: RedisServer): Promise<{ stop(): Promise<string[]> }> {
  const m = await monitor(server);
  return {
    async stop() {
      const seen = await m.settle();
      m.close();
      const names = [...new Set(seen.map((args) => String(args[0]).toLowerCase()))];
      const client = server.client();
      const info = (await client.call('COMMAND', 'INFO', ...names)) as unknown[];
      client.disconnect();
      return names.filter((_name, i) => {
        const entry = info[i];
        return Array.isArray(entry) && (entry[2] as string[]).includes('write');
      });
    },
  };
}

describe('what is sent to whom', () => {
  it('a dry run sends no write command to any server', async () => {
    await seedAll(servers, mixedLayout(0xabc));
    const watchers = await Promise.all([servers.target, ...servers.sources].map(watch));
    await servers.merge(
      { strategies: { default: 'merge', string: 'override', stream: 'override' }, typeMismatch: 'override' },
      { dryRun: true },
    );
    const writes = await Promise.all(watchers.map((w) => w.stop()));
    expect(writes).toEqual([[], [], [], []]);
  });

  it('a real run sends no write command to a source', async () => {
    await seedAll(servers, mixedLayout(0xabc));
    const watchers = await Promise.all(servers.sources.map(watch));
    const target = await watch(servers.target);
    const report = await servers.merge({
      strategies: { default: 'merge', string: 'override', stream: 'override' },
      typeMismatch: 'override',
    });
    expect(report.outcome).toBe('done');
    const writes = await Promise.all(watchers.map((w) => w.stop()));
    expect(writes).toEqual([[], [], []]);
    // The check can see writes: the target got some.
    expect((await target.stop()).length).toBeGreaterThan(0);
  });
});
