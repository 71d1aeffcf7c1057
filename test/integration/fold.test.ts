/**
 * Three sources with overlapping keys: the left fold of SPEC §1.2 in declared order, the counters
 * of SPEC §5.3 (conflicts with earlier sources, sourceOverlap once per key), and per-source
 * prefix and match (SPEC §1.1).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { counts } from '../harness/counts.js';
import { hash, list, NONE, normalize, readValue, seed, set, str, zset } from '../harness/data.js';
import { type Servers, useServers } from '../harness/merge-servers.js';

const servers = useServers(3);
let s1: Servers['t'];
let s2: Servers['t'];
let s3: Servers['t'];

beforeAll(() => {
  [s1, s2, s3] = servers.s as [Servers['t'], Servers['t'], Servers['t']];
});

describe('fold order across three sources', () => {
  it('override: the last source that holds the key wins', async () => {
    await seed(s1, { all: str('s1'), first2: str('s1'), edges: str('s1') });
    await seed(s2, { all: str('s2'), first2: str('s2') });
    await seed(s3, { all: str('s3'), edges: str('s3') });
    await seed(servers.t, { all: str('target') });
    const report = await servers.merge({ strategies: { default: 'override' } });
    expect(report.outcome).toBe('done');
    expect(await servers.t.get('all')).toBe('s3');
    expect(await servers.t.get('first2')).toBe('s2');
    expect(await servers.t.get('edges')).toBe('s3');
    // all: 3 overrides; first2: create + override; edges: create + override.
    expect(report.totals).toEqual(counts({ created: 2, overridden: 5, sourceOverlap: 3 }));
    expect(report.conflicts.total).toBe(5);
    expect(report.sources.map((s) => [s.name, s.scanned])).toEqual([
      ['s1', 3],
      ['s2', 2],
      ['s3', 2],
    ]);
  });

  it("skip: the target's own value wins, else the first source that holds the key", async () => {
    await seed(s1, { all: str('s1'), first2: str('s1') });
    await seed(s2, { all: str('s2'), first2: str('s2'), last2: str('s2') });
    await seed(s3, { all: str('s3'), last2: str('s3') });
    await seed(servers.t, { all: str('target') });
    const report = await servers.merge({ strategies: { default: 'skip' } });
    expect(await servers.t.get('all')).toBe('target');
    expect(await servers.t.get('first2')).toBe('s1');
    expect(await servers.t.get('last2')).toBe('s2');
    expect(report.totals).toEqual(counts({ created: 2, skipped: 5, sourceOverlap: 3 }));
    expect(report.conflicts.total).toBe(5);
  });

  it('merge folds every source into the target in declared order', async () => {
    await seed(s1, { l: list('1a', '1b'), st: set('x'), h: hash({ f: '1', g: '1' }), z: zset(['m', 1]) });
    await seed(s2, { l: list('2a'), st: set('y'), h: hash({ f: '2' }), z: zset(['m', 2]) });
    await seed(s3, { l: list('3a'), st: set('x', 'z'), h: hash({ h: '3' }), z: zset(['m', 4], ['n', 1]) });
    await seed(servers.t, { l: list('t') });
    const report = await servers.merge({
      strategies: { default: 'merge', string: 'skip', stream: 'skip' },
      merge: { zsetScore: 'sum', list: 'append', hashField: 'source' },
    });
    expect(report.outcome).toBe('done');
    expect(await readValue(servers.t, 'l')).toEqual(normalize(list('t', '1a', '1b', '2a', '3a')));
    expect(await readValue(servers.t, 'st')).toEqual(normalize(set('x', 'y', 'z')));
    expect(await readValue(servers.t, 'h')).toEqual(normalize(hash({ f: '2', g: '1', h: '3' })));
    expect(await readValue(servers.t, 'z')).toEqual(normalize(zset(['n', 1], ['m', 7])));
    // l: 3 merges; st, h, z: create + 2 merges each.
    expect(report.totals).toEqual(counts({ created: 3, merged: 9, sourceOverlap: 4 }));
    expect(report.byType.list).toEqual(counts({ merged: 3, sourceOverlap: 1 }));
    expect(report.byType.zset).toEqual(counts({ created: 1, merged: 2, sourceOverlap: 1 }));
    expect(report.conflicts.total).toBe(9);
  });

  it('list prepend across sources puts the last source first', async () => {
    await seed(s1, { l: list('1a', '1b') });
    await seed(s2, { l: list('2a') });
    await seed(s3, { l: list('3a', '3b') });
    await seed(servers.t, { l: list('t') });
    await servers.merge({ strategies: { list: 'merge' }, merge: { list: 'prepend' } });
    expect(await readValue(servers.t, 'l')).toEqual(normalize(list('3a', '3b', '2a', '1a', '1b', 't')));
  });

  it('list union across sources adds each element once, in order of first appearance', async () => {
    await seed(s1, { l: list('b', 'a') });
    await seed(s2, { l: list('c', 'b', 'c') });
    await seed(s3, { l: list('a', 'd') });
    await seed(servers.t, { l: list('a') });
    await servers.merge({ strategies: { list: 'merge' }, merge: { list: 'union' } });
    expect(await readValue(servers.t, 'l')).toEqual(normalize(list('a', 'b', 'c', 'd')));
  });
});

describe('conflicts and overlaps are counted per step', () => {
  it('a key created by an earlier source is a conflict for a later one', async () => {
    await seed(s1, { k: str('s1') });
    await seed(s2, { k: str('s2') });
    const report = await servers.merge({ strategies: { default: 'override' } });
    expect(await servers.t.get('k')).toBe('s2');
    expect(report.totals).toEqual(counts({ created: 1, overridden: 1, sourceOverlap: 1 }));
    expect(report.conflicts).toEqual({
      total: 1,
      sample: [{ key: 'k', source: 's2', sourceType: 'string', targetType: 'string', action: 'overridden' }],
    });
  });

  it('sourceOverlap counts each key held by more than one source once', async () => {
    await seed(s1, { one: str('1'), two: str('1'), three: str('1') });
    await seed(s2, { two: str('2'), three: str('2') });
    await seed(s3, { three: str('3'), solo3: str('3') });
    const report = await servers.merge({ strategies: { default: 'skip' } });
    // Keys in more than one source: two, three.
    expect(report.totals.sourceOverlap).toBe(2);
    expect(report.byType.string?.sourceOverlap).toBe(2);
    expect(report.totals).toEqual(counts({ created: 4, skipped: 3, sourceOverlap: 2 }));
  });

  it('type mismatches between sources: override takes the last, skip keeps the first holder', async () => {
    await seed(s1, { k: str('s1') });
    await seed(s2, { k: hash({ f: 's2' }) });
    await seed(s3, { k: set('s3') });
    const overridden = await servers.merge({ strategies: { default: 'skip' }, typeMismatch: 'override' });
    expect(await readValue(servers.t, 'k')).toEqual(normalize(set('s3')));
    expect(overridden.totals).toEqual(
      counts({ created: 1, overridden: 2, typeMismatch: 2, sourceOverlap: 1 }),
    );
    expect(overridden.conflicts.sample.map((s) => [s.source, s.sourceType, s.targetType])).toEqual([
      ['s2', 'hash', 'string'],
      ['s3', 'set', 'hash'],
    ]);

    await servers.t.flushall();
    const skipped = await servers.merge({ strategies: { default: 'override' }, typeMismatch: 'skip' });
    expect(await readValue(servers.t, 'k')).toEqual(normalize(str('s1')));
    expect(skipped.totals).toEqual(counts({ created: 1, skipped: 2, typeMismatch: 2, sourceOverlap: 1 }));
  });

  it('typeMismatch fail against a key an earlier source created stops the run and keeps that value', async () => {
    await seed(s1, { k: str('s1') });
    await seed(s2, { k: hash({ f: 's2' }) });
    const report = await servers.merge({ strategies: { default: 'override' }, typeMismatch: 'fail' });
    expect(report.outcome).toBe('failed');
    expect(report.error).toContain('"k"');
    expect(await readValue(servers.t, 'k')).toEqual(normalize(str('s1')));
    expect(report.totals).toEqual(counts({ created: 1, failed: 1, typeMismatch: 1, sourceOverlap: 1 }));
  });
});

describe('prefix and match', () => {
  it('a per-source prefix is prepended to every key written to the target', async () => {
    await seed(s1, { k: str('s1'), h: hash({ f: 'v' }) });
    await seed(s2, { k: str('s2') });
    await seed(s3, { k: str('s3') });
    const report = await servers.merge({
      strategies: { default: 'override' },
      sources: [{ prefix: 'a:' }, { prefix: 'b:' }, {}],
    });
    expect((await servers.t.keys('*')).sort()).toEqual(['a:h', 'a:k', 'b:k', 'k']);
    expect(await servers.t.get('a:k')).toBe('s1');
    expect(await servers.t.get('b:k')).toBe('s2');
    expect(await servers.t.get('k')).toBe('s3');
    expect(await readValue(servers.t, 'a:h')).toEqual(normalize(hash({ f: 'v' })));
    // Different target keys: no conflict and no overlap.
    expect(report.totals).toEqual(counts({ created: 4 }));
  });

  it('keys that meet on the target through a prefix fold like any other overlap', async () => {
    await seed(s1, { k: list('s1') }); // → a:k
    await seed(s2, { 'a:k': list('s2') }); // → a:k
    await seed(s3, { k: list('s3') }); // → a:k
    await seed(servers.t, { 'a:k': list('t') });
    const report = await servers.merge({
      strategies: { list: 'merge' },
      sources: [{ prefix: 'a:' }, {}, { prefix: 'a:' }],
    });
    expect(await servers.t.keys('*')).toEqual(['a:k']);
    expect(await readValue(servers.t, 'a:k')).toEqual(normalize(list('t', 's1', 's2', 's3')));
    expect(report.totals).toEqual(counts({ merged: 3, sourceOverlap: 1 }));
    expect(report.conflicts.total).toBe(3);
  });

  it('a prefix fold in a dry run predicts the same counters as the real run', async () => {
    await seed(s1, { k: str('s1'), x: str('1') }); // → a:k, a:x
    await seed(s2, { 'a:k': hash({ f: 'v' }), 'a:x': str('2') });
    await seed(s3, { k: set('m') }); // → a:k
    const config = {
      strategies: { default: 'override' },
      typeMismatch: 'skip',
      sources: [{ prefix: 'a:' }, {}, { prefix: 'a:' }],
    };
    const dry = await servers.merge(config, { dryRun: true });
    expect(await servers.t.dbsize()).toBe(0);
    const real = await servers.merge(config);
    expect(await servers.t.get('a:k')).toBe('s1');
    expect(await servers.t.get('a:x')).toBe('2');
    expect(real.totals).toEqual(
      counts({ created: 2, overridden: 1, skipped: 2, typeMismatch: 2, sourceOverlap: 2 }),
    );
    expect(dry.totals).toEqual(real.totals);
    expect(dry.byType).toEqual(real.byType);
    expect(dry.conflicts.total).toBe(real.conflicts.total);
  });

  it('a per-source match selects that source’s keys only', async () => {
    await seed(s1, { 'user:1': str('s1'), 'order:1': str('s1') });
    await seed(s2, { 'user:2': str('s2'), 'order:2': str('s2') });
    await seed(s3, { 'user:3': str('s3'), 'order:3': str('s3') });
    const report = await servers.merge({
      sources: [{ match: 'user:*' }, { match: 'order:*' }, {}],
    });
    expect((await servers.t.keys('*')).sort()).toEqual(['order:2', 'order:3', 'user:1', 'user:3']);
    expect(report.sources.map((s) => s.scanned)).toEqual([1, 1, 2]);
    expect(report.totals).toEqual(counts({ created: 4 }));
  });

  it('a global match applies to every source; a source’s own match replaces it', async () => {
    await seed(s1, { 'user:1': str('s1'), 'order:1': str('s1') });
    await seed(s2, { 'user:2': str('s2'), 'order:2': str('s2') });
    await seed(s3, { 'user:3': str('s3'), 'order:3': str('s3') });
    const report = await servers.merge({ match: 'user:*', sources: [{}, {}, { match: 'order:*' }] });
    expect((await servers.t.keys('*')).sort()).toEqual(['order:3', 'user:1', 'user:2']);
    expect(report.totals).toEqual(counts({ created: 3 }));
  });

  it('a key a source’s match excludes is not counted as an overlap for that source', async () => {
    await seed(s1, { 'user:1': str('s1'), 'order:1': str('s1') });
    await seed(s2, { 'order:1': str('s2') });
    const report = await servers.merge({
      strategies: { default: 'override' },
      sources: [{ match: 'user:*' }, {}, {}],
    });
    expect(await servers.t.get('order:1')).toBe('s2');
    expect(await readValue(servers.t, 'user:1')).toEqual(normalize(str('s1')));
    expect(report.totals).toEqual(counts({ created: 2 }));
    expect(await readValue(servers.t, 'absent')).toEqual(NONE);
  });
});
