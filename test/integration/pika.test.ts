/**
 * Pika as a source and a target (SPEC §7), against real Pika 4.0.1 and 3.5.5 processes
 * (../shared/servers; skipped with a line naming the missing binary where it is absent). What the
 * strategies suite does not cover: Pika 3.x names that hold several types, TTL granularity, keys
 * Pika cannot store, big keys without RENAME, progress totals, many Pika shards folded into one,
 * and a dry run that predicts the real run on Pika.
 */
import { describe, expect, it } from 'vitest';
import { resolvePlan, runMerge } from '../../src/index.js';
import { keyspaceSize, probeServer } from '../../src/servers/caps.js';
import { counts } from '../harness/counts.js';
import {
  addType,
  hash,
  keyCount,
  list,
  MULTI,
  normalize,
  readValue,
  seed,
  set,
  str,
  stream,
  TYPES,
  type Value,
  zset,
} from '../harness/data.js';
import { useServers } from '../harness/merge-servers.js';
import { startProxy } from '../harness/proxy.js';
import { startRedis } from '../harness/redis.js';
import { describeServer } from '../harness/servers.js';

describeServer('pika-3.5.5', 'Pika 3.5: one name, several types (SPEC §7)', () => {
  describe('into Redis', () => {
    const servers = useServers(1, { source: { server: 'pika-3.5.5' } });

    it('each (name, type) is a step of its own, folded in the order string > hash > list > zset > set', async () => {
      for (const value of MULTI) await addType(servers.s[0]!, 'mt', value);
      await addType(servers.s[0]!, 'mt', stream(['1-1', ['f', 'v']]));
      const skip = await servers.merge({ strategies: { default: 'override' } }, { dryRun: true });
      // A Redis name holds one type: the string is created, every later type meets it as a mismatch.
      expect(skip.byType).toEqual({
        string: counts({ created: 1 }),
        hash: counts({ skipped: 1, typeMismatch: 1 }),
        list: counts({ skipped: 1, typeMismatch: 1 }),
        zset: counts({ skipped: 1, typeMismatch: 1 }),
        set: counts({ skipped: 1, typeMismatch: 1 }),
        stream: counts({ skipped: 1, typeMismatch: 1 }),
      });
      const real = await servers.merge({ strategies: { default: 'override' } });
      expect(real.outcome, real.error).toBe('done');
      expect({ totals: real.totals, byType: real.byType }).toEqual({
        totals: skip.totals,
        byType: skip.byType,
      });
      expect(await readValue(servers.t, 'mt')).toEqual(normalize(str('s')));

      // typeMismatch override: each type replaces the one before it; the stream, last, wins.
      await servers.t.flushall();
      const dry = await servers.merge(
        { strategies: { default: 'override' }, typeMismatch: 'override' },
        { dryRun: true },
      );
      const over = await servers.merge({ strategies: { default: 'override' }, typeMismatch: 'override' });
      expect(over.outcome, over.error).toBe('done');
      expect(over.totals).toEqual(counts({ created: 1, overridden: 5, typeMismatch: 5 }));
      expect(dry.totals).toEqual(over.totals);
      expect(await readValue(servers.t, 'mt')).toEqual(normalize(stream(['1-1', ['f', 'v']])));
    });

    it('a name of one type on 3.5 is copied like any key, and TTLs arrive in whole seconds', async () => {
      await seed(servers.s[0]!, { h: hash({ a: '1' }), l: list('p', 'q'), s: str('v') });
      await servers.s[0]!.pexpire('s', 9_000);
      const report = await servers.merge({ strategies: { default: 'override' } });
      expect(report.totals).toEqual(counts({ created: 3 }));
      expect(await readValue(servers.t, 'h')).toEqual(normalize(hash({ a: '1' })));
      const pttl = await servers.t.pttl('s');
      expect(pttl).toBeGreaterThan(5_000);
      expect(pttl).toBeLessThanOrEqual(9_000);
    });
  });

  describe('into Pika 3.5', () => {
    const servers = useServers(1, { source: { server: 'pika-3.5.5' }, target: { server: 'pika-3.5.5' } });

    it('every type of a name lives beside the others on the target: no type mismatch', async () => {
      for (const value of MULTI) await addType(servers.s[0]!, 'mt', value);
      const dry = await servers.merge({ strategies: { default: 'override' } }, { dryRun: true });
      const report = await servers.merge({ strategies: { default: 'override' } });
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals).toEqual(counts({ created: 5 }));
      expect(dry.totals).toEqual(report.totals);
      for (const value of MULTI) {
        expect(await readValue(servers.t, 'mt', undefined, value.type as 'string')).toEqual(normalize(value));
      }
    });

    it('override of one type keeps the other types of the name; merge and skip act on their own type', async () => {
      // Target: mt holds a string, a hash and a set; the source: a hash, a set and a list.
      await addType(servers.t, 'mt', str('target-string'));
      await addType(servers.t, 'mt', hash({ old: 'x', f: 't' }));
      await addType(servers.t, 'mt', set('t1'));
      await addType(servers.s[0]!, 'mt', hash({ f: 's', g: 's' }));
      await addType(servers.s[0]!, 'mt', set('s1'));
      await addType(servers.s[0]!, 'mt', list('l1'));
      const config = { strategies: { default: 'skip', hash: 'override', set: 'merge' } };
      const dry = await servers.merge(config, { dryRun: true });
      const report = await servers.merge(config);
      expect(report.outcome, report.error).toBe('done');
      expect(report.byType).toEqual({
        hash: counts({ overridden: 1 }),
        set: counts({ merged: 1 }),
        list: counts({ created: 1 }),
      });
      expect(dry.byType).toEqual(report.byType);
      expect(await readValue(servers.t, 'mt', undefined, 'string')).toEqual(normalize(str('target-string')));
      expect(await readValue(servers.t, 'mt', undefined, 'hash')).toEqual(
        normalize(hash({ f: 's', g: 's' })),
      );
      expect(await readValue(servers.t, 'mt', undefined, 'set')).toEqual(normalize(set('t1', 's1')));
      expect(await readValue(servers.t, 'mt', undefined, 'list')).toEqual(normalize(list('l1')));
    });

    it('a TTL on a 3.5 source arrives within its whole seconds; no TTL stays none', async () => {
      const redis = servers.s[0]!;
      await seed(redis, { short: str('a'), mid: set('m') });
      await redis.pexpire('short', 5_000);
      const report = await servers.merge({ strategies: { default: 'override' } });
      expect(report.totals).toEqual(counts({ created: 2 }));
      expect(await servers.t.pttl('short')).toBeLessThanOrEqual(5_000);
      expect(await servers.t.pttl('short')).toBeGreaterThan(3_000);
      expect(await servers.t.pttl('mid')).toBe(-1);
    });
  });

  describe('Redis into Pika 3.5: TTL rounding', () => {
    const servers = useServers(1, { target: { server: 'pika-3.5.5' } });

    it('lifetimes are rounded up to the second (never lengthened by more than one), not down to zero', async () => {
      await seed(servers.s[0]!, { a: str('1'), b: str('2'), c: hash({ f: 'v' }) });
      await servers.s[0]!.pexpire('a', 700);
      await servers.s[0]!.pexpire('b', 5_500);
      await servers.s[0]!.pexpire('c', 5_500);
      const report = await servers.merge({ strategies: { default: 'override' } });
      expect(report.totals).toEqual(counts({ created: 3 }));
      expect(await servers.t.get('a')).toBe('1');
      expect(await servers.t.pttl('a')).toBeLessThanOrEqual(1_000);
      for (const key of ['b', 'c']) {
        const pttl = await servers.t.pttl(key);
        expect(pttl, key).toBeLessThanOrEqual(6_000);
        expect(pttl, key).toBeGreaterThan(4_000);
      }
    });
  });
});

describeServer('pika-4.0.1', 'Pika 4.0 as a target: keys and lifetimes it cannot take as they are', () => {
  const servers = useServers(1, { target: { server: 'pika-4.0.1' } });

  it('a key with a NUL byte is counted failed with its reason and never written cut short', async () => {
    await seed(servers.s[0]!, [
      [Buffer.from('a\x00b'), str('nul')],
      ['plain', str('ok')],
    ]);
    const dry = await servers.merge({ strategies: { default: 'override' } }, { dryRun: true });
    expect(dry.totals).toEqual(counts({ created: 1, failed: 1 }));
    const report = await servers.merge({ strategies: { default: 'override' } }, { onError: 'skip' });
    expect(report.outcome).toBe('failed');
    expect(report.totals).toEqual(counts({ created: 1, failed: 1 }));
    expect(report.failedKeys).toEqual([
      expect.objectContaining({ key: 'a\x00b', source: 's1', type: 'string' }),
    ]);
    expect(report.failedKeys![0]!.reason).toMatch(/NUL/);
    expect(await servers.t.get('plain')).toBe('ok');
    // Neither the key nor its cut-off head "a" is on the target.
    expect(await keyCount(servers.t)).toBe(1);
    expect(await servers.t.exists('a')).toBe(0);
  });

  it('TTLs are sent relative (PEXPIREAT with milliseconds destroys a key on 4.0) and arrive unlengthened', async () => {
    const data = Object.fromEntries(TYPES.filter((t) => t !== 'stream').map((t) => [`k:${t}`, sampleOf(t)]));
    await seed(servers.s[0]!, data);
    for (const key of Object.keys(data)) await servers.s[0]!.pexpire(key, 50_000);
    await seed(servers.t, { 'k:hash': hash({ z: '1' }) });
    await servers.t.pexpire('k:hash', 10_000);
    const report = await servers.merge({ strategies: { default: 'override', hash: 'merge' } });
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toEqual(counts({ created: 4, merged: 1 }));
    for (const key of Object.keys(data)) {
      const pttl = await servers.t.pttl(key);
      expect(pttl, key).toBeGreaterThan(40_000);
      expect(pttl, key).toBeLessThanOrEqual(50_000);
    }
    expect(await readValue(servers.t, 'k:hash')).toEqual(normalize(hash({ a: '1', b: '2', z: '1' })));
  });

  it('a stream loses its consumer groups (Pika has none) and keeps its entries', async () => {
    await seed(servers.s[0]!, { st: stream(['1-1', ['f', 'v']], ['2-5', ['g', 'w']]) });
    await servers.s[0]!.xgroup('CREATE', 'st', 'readers', '1-1');
    const report = await servers.merge({ strategies: { default: 'override' } });
    expect(report.outcome, report.error).toBe('done');
    expect(await readValue(servers.t, 'st')).toEqual(
      normalize(stream(['1-1', ['f', 'v']], ['2-5', ['g', 'w']])),
    );
  });

  it('zset merge rules that ZADD NX/GT/LT would apply are computed by kvmerge (Pika has no ZADD flags)', async () => {
    for (const [rule, expected] of [
      [
        'target',
        [
          ['a', 1],
          ['b', 5],
          ['c', 3],
        ],
      ],
      [
        'max',
        [
          ['a', 1],
          ['b', 5],
          ['c', 7],
        ],
      ],
      [
        'min',
        [
          ['a', 1],
          ['b', 2],
          ['c', 3],
        ],
      ],
      [
        'sum',
        [
          ['a', 1],
          ['b', 7],
          ['c', 10],
        ],
      ],
    ] as [string, [string, number][]][]) {
      await servers.flush();
      await seed(servers.s[0]!, { z: zset(['a', 1], ['b', 2], ['c', 7]) });
      await seed(servers.t, { z: zset(['b', 5], ['c', 3]) });
      const report = await servers.merge({ strategies: { zset: 'merge' }, merge: { zsetScore: rule } });
      expect(report.totals, rule).toEqual(counts({ merged: 1 }));
      expect(await readValue(servers.t, 'z'), rule).toEqual(normalize(zset(...expected)));
    }
  });
});

function sampleOf(type: string): Value {
  switch (type) {
    case 'string':
      return str('v');
    case 'hash':
      return hash({ a: '1', b: '2' });
    case 'set':
      return set('x', 'y');
    case 'zset':
      return zset(['m', 1], ['n', Number.NEGATIVE_INFINITY]);
    default:
      return list('p', 'q', 'r');
  }
}

/** Big keys: a few thousand elements with a big-key threshold of 100, so every key goes in windows. */
const BIG = 3_000;
function bigValue(type: string, tag: string): Value {
  const n = Array.from({ length: BIG }, (_, i) => `${tag}${i}`);
  switch (type) {
    case 'string':
      return str(n.join(','));
    case 'hash':
      return hash(n.map((x): [string, string] => [x, `v-${x}`]));
    case 'set':
      return set(...n);
    case 'zset':
      return zset(...n.map((x, i): [string, number] => [x, i]));
    case 'list':
      return list(...n);
    default:
      return stream(...n.map((x, i): [string, string[]] => [`${i + 1}-0`, ['f', x]]));
  }
}

for (const pika of ['pika-4.0.1', 'pika-3.5.5'] as const) {
  describeServer(pika, `${pika}: big keys in windows, both ways`, () => {
    const big = { write: { bigKeyElements: 100, bigKeyBytes: 4096 } } as const;

    describe('as the target (no RENAME: one transaction on its own connection)', () => {
      const servers = useServers(1, { target: { server: pika } });

      it('create and override of every type arrive whole, with the TTL, and nothing else is left', async () => {
        const types = TYPES;
        for (const type of types) {
          await seed(servers.s[0]!, { [`big:${type}`]: bigValue(type, 's') });
          await seed(servers.t, { [`big:${type}`]: bigValue(type, 't') });
        }
        await servers.s[0]!.pexpire('big:hash', 60_000);
        const report = await servers.merge({ strategies: { default: 'override' }, ...big });
        expect(report.outcome, report.error).toBe('done');
        expect(report.totals).toEqual(counts({ overridden: types.length }));
        for (const type of types) {
          expect(await readValue(servers.t, `big:${type}`), type).toEqual(normalize(bigValue(type, 's')));
        }
        expect(await servers.t.pttl('big:hash')).toBeGreaterThan(50_000);
        expect(await keyCount(servers.t)).toBe(types.length);
      });

      it('merges of big keys apply window by window (hash union, zset max without ZADD GT)', async () => {
        await seed(servers.s[0]!, { h: bigValue('hash', 's'), z: bigValue('zset', 's') });
        await seed(servers.t, { h: hash({ extra: '1' }), z: zset(['s0', 10_000], ['t', 1]) });
        const report = await servers.merge({
          strategies: { hash: 'merge', zset: 'merge' },
          merge: { zsetScore: 'max' },
          ...big,
        });
        expect(report.totals).toEqual(counts({ merged: 2 }));
        const h = await readValue(servers.t, 'h');
        expect(h.type === 'hash' && h.value.length).toBe(BIG + 1);
        const z = await readValue(servers.t, 'z');
        expect(z.type === 'zset' && z.value.find(([m]) => m === 's0')).toEqual(['s0', 10_000]);
        expect(z.type === 'zset' && z.value.find(([m]) => m === 's5')).toEqual(['s5', 5]);
        expect(z.type === 'zset' && z.value.length).toBe(BIG + 1);
      });
    });

    describe('as the source (element counts instead of MEMORY USAGE)', () => {
      const servers = useServers(1, { source: { server: pika } });

      it('every type is read in windows and arrives whole', async () => {
        const types = TYPES;
        for (const type of types) await seed(servers.s[0]!, { [`big:${type}`]: bigValue(type, 's') });
        const report = await servers.merge({ strategies: { default: 'override' }, ...big });
        expect(report.outcome, report.error).toBe('done');
        expect(report.totals).toEqual(counts({ created: types.length }));
        for (const type of types) {
          expect(await readValue(servers.t, `big:${type}`), type).toEqual(normalize(bigValue(type, 's')));
        }
      });

      it('progress totals come from INFO keyspace 1, not from a DBSIZE that says 0', async () => {
        const unprobed = await startRedis({ server: pika });
        try {
          const client = unprobed.client();
          await seed(client, { a: str('1'), b: hash({ f: 'v' }), c: set('x') });
          expect(await client.dbsize()).toBe(0); // what a plain DBSIZE says before any recount
          const caps = await probeServer(client);
          expect(caps.kind).toBe('pika');
          expect(await keyspaceSize(client, caps)).toBe(3);
        } finally {
          await unprobed.stop();
        }
      });
    });
  });
}

describeServer('pika-4.0.1', 'six Pika shards folded into one Pika (the README walkthrough)', () => {
  const servers = useServers(6, { source: { server: 'pika-4.0.1' }, target: { server: 'pika-4.0.1' } });

  it('the dry run counts what the real run does, and the target holds the fold of SPEC §1', async () => {
    // Each shard: 200 keys of its own, and a shared zset, hash and string that every shard holds.
    for (const [i, shard] of servers.s.entries()) {
      const own: [string, Value][] = [];
      for (let k = 0; k < 200; k++)
        own.push([`shard${i}:k${k}`, k % 2 ? str(`v${k}`) : set(`m${k}`, `s${i}`)]);
      own.push(['shared:z', zset([`m${i}`, i], ['common', i + 1])]);
      own.push(['shared:s', str(`from shard ${i}`)]);
      own.push(['shared:h', hash({ [`f${i}`]: `v${i}`, common: `shard${i}` })]);
      await seed(shard, own);
    }
    await seed(servers.t, { 'shared:z': zset(['common', 100]), 'shared:h': hash({ old: 'kept' }) });
    const config = { strategies: { default: 'skip', zset: 'merge', string: 'override', hash: 'merge' } };
    const dry = await servers.merge(config, { dryRun: true });
    const real = await servers.merge(config);
    expect(real.outcome, real.error).toBe('done');
    expect({ totals: dry.totals, byType: dry.byType }).toEqual({ totals: real.totals, byType: real.byType });
    expect(real.totals).toEqual(
      counts({ created: 6 * 200 + 1, merged: 6 + 6, overridden: 5, sourceOverlap: 3 }),
    );
    expect(await readValue(servers.t, 'shared:s')).toEqual(normalize(str('from shard 5')));
    // zsetScore source (the default): the last shard's score of "common" wins.
    expect(await readValue(servers.t, 'shared:z')).toEqual(
      normalize(zset(['common', 6], ...Array.from({ length: 6 }, (_, i): [string, number] => [`m${i}`, i]))),
    );
    expect(await readValue(servers.t, 'shared:h')).toEqual(
      normalize(
        hash({
          old: 'kept',
          common: 'shard5',
          ...Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}`, `v${i}`])),
        }),
      ),
    );
    expect(await keyCount(servers.t)).toBe(6 * 200 + 3);
  });
});

describeServer('pika-4.0.1', 'Pika and --mode dump', () => {
  const servers = useServers(1, { source: { server: 'pika-4.0.1' } });

  it('is refused before anything is written, naming the Pika source', async () => {
    await seed(servers.s[0]!, { k: str('v') });
    await expect(servers.merge({ write: { mode: 'dump' } })).rejects.toThrow(
      /source s1 .* has no DUMP: use --mode auto or native/,
    );
    expect(await keyCount(servers.t)).toBe(0);
  });
});

describeServer('pika-3.5.5', 'Pika 3.5 with its key cache on', () => {
  const servers = useServers(1, { source: { server: 'pika-3.5.5' } });

  it('is named in a warning before the run, with the setting that avoids its crash', async () => {
    await servers.s[0]!.config('SET', 'cache-model', '1');
    await seed(servers.s[0]!, { k: str('v') });
    const lines: string[] = [];
    const report = await runMerge(resolvePlan(servers.doc(), {}, {}), { log: (line) => lines.push(line) });
    await servers.s[0]!.config('SET', 'cache-model', '0');
    expect(report.outcome).toBe('done');
    expect(lines).toContainEqual(
      expect.stringMatching(/^source s1: Pika 3\.5\.5 runs with cache-model 1.*CONFIG SET cache-model 0/),
    );
  });
});

describeServer('pika-4.0.1', 'a Pika big-key transaction cut by a dropped connection', () => {
  const servers = useServers(1, { target: { server: 'pika-4.0.1' } });

  it('leaves the target key as it was (the transaction is discarded, nothing half-written)', async () => {
    await seed(servers.s[0]!, { h: bigValue('hash', 's') });
    await seed(servers.t, { h: hash({ old: 'kept' }) });
    const proxy = await startProxy(servers.target.port);
    try {
      // ~100 kB of windows go up inside the transaction: the cut lands in its middle.
      proxy.cutAfter(40_000, 'up');
      const doc = servers.doc({ strategies: { default: 'override' }, write: { bigKeyElements: 100 } });
      const report = await runMerge(
        resolvePlan({ ...doc, target: { url: proxy.url(servers.target.url) } }, {}, {}),
      );
      expect(proxy.cuts).toBe(1);
      expect(report.outcome).toBe('failed');
      expect(await readValue(servers.t, 'h')).toEqual(normalize(hash({ old: 'kept' })));
      expect(await keyCount(servers.t)).toBe(1);
    } finally {
      await proxy.close();
    }
  });
});
