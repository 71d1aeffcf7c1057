/**
 * One source into one target: every type under every strategy (SPEC §1.2, §1.4), the merge options,
 * and the typeMismatch policy. Asserts what a user sees: the target's contents and the report.
 * The same suite runs with Redis on both sides and with Pika 4.0 and 3.5 as the target and as the
 * source (../shared/servers; skipped with a line naming the missing binary where it is absent).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, resolvePlan } from '../../src/index.js';
import { counts } from '../harness/counts.js';
import {
  hash,
  keyCount,
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
import { type Servers, useServers } from '../harness/merge-servers.js';
import { describeServer, isPika, PIKA_SERVERS, type TestServer } from '../harness/servers.js';

interface Sides {
  source: TestServer;
  target: TestServer;
}

const SIDES: Sides[] = [
  { source: 'redis', target: 'redis' },
  ...PIKA_SERVERS.flatMap((pika): Sides[] => [
    { source: 'redis', target: pika },
    { source: pika, target: 'redis' },
  ]),
];

for (const sides of SIDES) {
  describeServer([sides.source, sides.target], `${sides.source} into ${sides.target}`, () =>
    strategySuite(sides),
  );
}

function strategySuite({ source, target }: Sides): void {
  const servers = useServers(1, { source: { server: source }, target: { server: target } });
  // Pika has no DUMP/RESTORE: dump mode is refused there before anything is written.
  const modes = isPika(source) || isPika(target) ? ['auto', 'native'] : ['auto', 'dump', 'native'];
  const sideBySide = target === 'pika-3.5.5';

  /** The source's value of each type, at key `k:<type>`. */
  const SOURCE: Record<TypeName, Value> = {
    string: str('from-source'),
    hash: hash({ a: 's-a', b: 's-b' }),
    set: set('a', 'b'),
    zset: zset(['a', 1], ['b', 2], ['d', 10]),
    list: list('a', 'b'),
    stream: stream(['1-1', ['f', 's1']], ['2-0', ['f', 's2', 'g', 's2g']]),
  };

  /** The target's own value of each type at the same keys, overlapping the source's. */
  const TARGET: Record<TypeName, Value> = {
    string: str('from-target'),
    hash: hash({ b: 't-b', c: 't-c' }),
    set: set('b', 'c'),
    zset: zset(['b', 5], ['c', 3], ['d', -1]),
    list: list('c', 'b'),
    stream: stream(['1-0', ['f', 't1']]),
  };

  const key = (type: TypeName): string => `k:${type}`;
  const everyType = (value: Record<TypeName, Value>): [string, Value][] =>
    TYPES.map((type) => [key(type), value[type]]);

  async function expectTarget(expected: Record<TypeName, Value>): Promise<void> {
    for (const type of TYPES) {
      expect(await readValue(servers.t, key(type)), key(type)).toEqual(normalize(expected[type]));
    }
  }

  /** byType when every type ended in `counter` once. */
  function byTypeOf(counter: 'created' | 'overridden' | 'skipped') {
    return Object.fromEntries(TYPES.map((type) => [type, counts({ [counter]: 1 })]));
  }

  describe('strategies for each type, one source', () => {
    it.each(modes)('create copies a value of every type into an empty target (%s mode)', async (mode) => {
      await seed(servers.s[0]!, everyType(SOURCE));
      const report = await servers.merge({ strategies: { default: 'override' }, write: { mode } });
      expect(report.outcome).toBe('done');
      await expectTarget(SOURCE);
      expect(report.totals).toEqual(counts({ created: 6 }));
      expect(report.byType).toEqual(byTypeOf('created'));
      expect(report.conflicts).toEqual({ total: 0, sample: [] });
      expect(report.sources).toEqual([expect.objectContaining({ name: 's1', scanned: 6 })]);
    });

    it.each(modes)(
      'override replaces the target value of every type with the source value (%s mode)',
      async (mode) => {
        await seed(servers.s[0]!, everyType(SOURCE));
        await seed(servers.t, everyType(TARGET));
        const report = await servers.merge({ strategies: { default: 'override' }, write: { mode } });
        expect(report.outcome).toBe('done');
        await expectTarget(SOURCE);
        expect(report.totals).toEqual(counts({ overridden: 6 }));
        expect(report.byType).toEqual(byTypeOf('overridden'));
        expect(report.conflicts.total).toBe(6);
        expect(report.conflicts.sample.sort((a, b) => (a.key! < b.key! ? -1 : 1))).toEqual(
          [...TYPES].sort().map((type) => ({
            key: key(type),
            source: 's1',
            sourceType: type,
            targetType: type,
            action: 'overridden',
          })),
        );
      },
    );

    it('skip keeps the target value of every type and still creates keys the target lacks', async () => {
      await seed(servers.s[0]!, everyType(SOURCE));
      await seed(servers.s[0]!, { 'only:source': str('new') });
      await seed(servers.t, everyType(TARGET));
      const report = await servers.merge({ strategies: { default: 'skip' } });
      expect(report.outcome).toBe('done');
      await expectTarget(TARGET);
      expect(await servers.t.get('only:source')).toBe('new');
      expect(report.totals).toEqual(counts({ skipped: 6, created: 1 }));
      expect(report.byType).toEqual({
        ...byTypeOf('skipped'),
        string: counts({ skipped: 1, created: 1 }),
      });
      expect(report.conflicts.total).toBe(6);
      expect(report.conflicts.sample.every((s) => s.action === 'skipped')).toBe(true);
    });

    it('per-type strategies apply to their own type only', async () => {
      await seed(servers.s[0]!, everyType(SOURCE));
      await seed(servers.t, everyType(TARGET));
      const report = await servers.merge({
        strategies: { default: 'skip', string: 'override', set: 'merge', list: 'override' },
      });
      await expectTarget({
        ...TARGET,
        string: SOURCE.string,
        set: set('a', 'b', 'c'),
        list: SOURCE.list,
      });
      expect(report.totals).toEqual(counts({ overridden: 2, merged: 1, skipped: 3 }));
      expect(report.byType.set).toEqual(counts({ merged: 1 }));
      expect(report.byType.stream).toEqual(counts({ skipped: 1 }));
    });
  });

  describe('merge (SPEC §1.4)', () => {
    async function mergeOne(
      type: TypeName,
      source: Value,
      target: Value,
      merge: Record<string, string> = {},
    ): Promise<{ value: Value; report: Awaited<ReturnType<Servers['merge']>> }> {
      await seed(servers.s[0]!, { k: source, 'k:new': source });
      await seed(servers.t, { k: target });
      const report = await servers.merge({ strategies: { default: 'skip', [type]: 'merge' }, merge });
      expect(report.outcome).toBe('done');
      // A key the target lacks is created, not merged, whatever the merge options.
      expect(await readValue(servers.t, 'k:new')).toEqual(normalize(source));
      expect(report.totals).toEqual(counts({ merged: 1, created: 1 }));
      expect(report.byType[type]).toEqual(counts({ merged: 1, created: 1 }));
      expect(report.conflicts.total).toBe(1);
      expect(report.conflicts.sample).toEqual([
        { key: 'k', source: 's1', sourceType: type, targetType: type, action: 'merged' },
      ]);
      return { value: await readValue(servers.t, 'k'), report };
    }

    it('hash merge is a field union; on a common field the source wins by default', async () => {
      const { value } = await mergeOne('hash', SOURCE.hash, TARGET.hash);
      expect(value).toEqual(normalize(hash({ a: 's-a', b: 's-b', c: 't-c' })));
    });

    it('hash merge with hashField: target keeps the target value of a common field', async () => {
      const { value } = await mergeOne('hash', SOURCE.hash, TARGET.hash, { hashField: 'target' });
      expect(value).toEqual(normalize(hash({ a: 's-a', b: 't-b', c: 't-c' })));
    });

    it('hash merge with hashField: source takes the source value of a common field', async () => {
      const { value } = await mergeOne('hash', SOURCE.hash, TARGET.hash, { hashField: 'source' });
      expect(value).toEqual(normalize(hash({ a: 's-a', b: 's-b', c: 't-c' })));
    });

    it('set merge is the union of members', async () => {
      const { value } = await mergeOne('set', SOURCE.set, TARGET.set);
      expect(value).toEqual(normalize(set('a', 'b', 'c')));
    });

    // source: a=1 b=2 d=10; target: b=5 c=3 d=-1
    it.each([
      [
        'source',
        [
          ['a', 1],
          ['b', 2],
          ['c', 3],
          ['d', 10],
        ],
      ],
      [
        'target',
        [
          ['a', 1],
          ['b', 5],
          ['c', 3],
          ['d', -1],
        ],
      ],
      [
        'max',
        [
          ['a', 1],
          ['b', 5],
          ['c', 3],
          ['d', 10],
        ],
      ],
      [
        'min',
        [
          ['a', 1],
          ['b', 2],
          ['c', 3],
          ['d', -1],
        ],
      ],
      [
        'sum',
        [
          ['a', 1],
          ['b', 7],
          ['c', 3],
          ['d', 9],
        ],
      ],
    ] as [string, [string, number][]][])(
      'zset merge is a member union; zsetScore %s decides a common member',
      async (rule, expected) => {
        const { value } = await mergeOne('zset', SOURCE.zset, TARGET.zset, { zsetScore: rule });
        expect(value).toEqual(normalize(zset(...expected)));
      },
    );

    it('zset merge defaults to the source score', async () => {
      const { value } = await mergeOne('zset', SOURCE.zset, TARGET.zset);
      expect(value).toEqual(normalize(zset(['a', 1], ['b', 2], ['c', 3], ['d', 10])));
    });

    it.each([
      ['append', ['c', 'b', 'a', 'b']],
      ['prepend', ['a', 'b', 'c', 'b']],
      ['union', ['c', 'b', 'a']],
    ])('list merge %s: source ["a","b"] into target ["c","b"]', async (rule, expected) => {
      const { value } = await mergeOne('list', SOURCE.list, TARGET.list, { list: rule });
      expect(value).toEqual(normalize(list(...expected)));
    });

    it('list merge defaults to append', async () => {
      const { value } = await mergeOne('list', SOURCE.list, TARGET.list);
      expect(value).toEqual(normalize(list('c', 'b', 'a', 'b')));
    });

    it('list union: [a] ∪ [b, a, b] is [a, b]', async () => {
      const { value } = await mergeOne('list', list('b', 'a', 'b'), list('a'), { list: 'union' });
      expect(value).toEqual(normalize(list('a', 'b')));
    });

    it('list prepend keeps the source order of many elements', async () => {
      const items = Array.from({ length: 3000 }, (_, i) => `s${i}`);
      const { value } = await mergeOne('list', list(...items), list('t0', 't1'), { list: 'prepend' });
      expect(value).toEqual(normalize(list(...items, 't0', 't1')));
    });

    it.each([
      ['string', 'merge'],
      ['stream', 'merge'],
    ])('%s: "merge" is refused when the configuration is loaded, naming the type', (type) => {
      const doc = servers.doc({ strategies: { [type]: 'merge' } });
      expect(() => resolvePlan(doc, {}, {})).toThrow(ConfigError);
      try {
        resolvePlan(doc, {}, {});
      } catch (err) {
        expect((err as ConfigError).field).toBe(`strategies.${type}`);
        expect((err as Error).message).toContain(type);
        expect((err as Error).message).toMatch(/override/);
        expect((err as Error).message).toMatch(/skip/);
      }
    });
  });

  describe('merge.ttl (SPEC §1.5)', () => {
    const LONG = 200_000;
    const SHORT = 100_000;
    // [rule, source TTL, target TTL, expected: 'none' | ms]
    const cases: [string, number | null, number | null, number | null][] = [
      ['max', LONG, SHORT, LONG],
      ['max', SHORT, LONG, LONG],
      ['max', null, SHORT, null],
      ['max', SHORT, null, null],
      ['min', LONG, SHORT, SHORT],
      ['min', SHORT, LONG, SHORT],
      ['min', null, SHORT, SHORT],
      ['min', SHORT, null, SHORT],
      ['min', null, null, null],
      ['source', LONG, SHORT, LONG],
      ['source', null, SHORT, null],
      ['source', SHORT, null, SHORT],
      ['target', LONG, SHORT, SHORT],
      ['target', null, SHORT, SHORT],
      ['target', SHORT, null, null],
    ];

    it.each(cases)('merge.ttl %s: source TTL %s, target TTL %s gives %s', async (rule, sTtl, tTtl, want) => {
      await seed(servers.s[0]!, { k: set('a') });
      await seed(servers.t, { k: set('b') });
      if (sTtl !== null) await servers.s[0]!.pexpire('k', sTtl);
      if (tTtl !== null) await servers.t.pexpire('k', tTtl);
      const report = await servers.merge({ strategies: { set: 'merge' }, merge: { ttl: rule } });
      expect(report.totals).toEqual(counts({ merged: 1 }));
      expect(await readValue(servers.t, 'k')).toEqual(normalize(set('a', 'b')));
      const pttl = await servers.t.pttl('k');
      if (want === null) expect(pttl).toBe(-1);
      else {
        expect(pttl).toBeLessThanOrEqual(want);
        expect(pttl).toBeGreaterThan(want - 5_000);
      }
    });

    it('merge.ttl defaults to max: no expiry on either side counts as the longest', async () => {
      await seed(servers.s[0]!, { k: hash({ a: '1' }) });
      await seed(servers.t, { k: hash({ b: '2' }) });
      await servers.t.pexpire('k', SHORT);
      await servers.merge({ strategies: { hash: 'merge' } });
      expect(await servers.t.pttl('k')).toBe(-1);
    });
  });

  // A Pika 3.x target keeps another type beside a name's type instead of clashing (pika.test.ts).
  if (!sideBySide)
    describe('typeMismatch (SPEC §1.2)', () => {
      // Each key holds a different type on the target than on the source.
      const rotate = (type: TypeName): TypeName => TYPES[(TYPES.indexOf(type) + 1) % TYPES.length]!;
      const MISMATCHED: Record<TypeName, Value> = Object.fromEntries(
        TYPES.map((type) => [type, TARGET[rotate(type)]]),
      ) as Record<TypeName, Value>;

      it.each(modes)(
        'override replaces a target value of another type with the source value (%s mode)',
        async (mode) => {
          await seed(servers.s[0]!, everyType(SOURCE));
          await seed(servers.t, everyType(MISMATCHED));
          const report = await servers.merge({
            strategies: { default: 'skip' },
            typeMismatch: 'override',
            write: { mode },
          });
          expect(report.outcome).toBe('done');
          await expectTarget(SOURCE);
          expect(report.totals).toEqual(counts({ overridden: 6, typeMismatch: 6 }));
          expect(report.byType.hash).toEqual(counts({ overridden: 1, typeMismatch: 1 }));
          expect(report.conflicts.total).toBe(6);
          expect(report.conflicts.sample).toContainEqual({
            key: 'k:hash',
            source: 's1',
            sourceType: 'hash',
            targetType: 'set',
            action: 'overridden',
          });
        },
      );

      it('skip keeps a target value of another type, even when the type strategy is override', async () => {
        await seed(servers.s[0]!, everyType(SOURCE));
        await seed(servers.t, everyType(MISMATCHED));
        const report = await servers.merge({ strategies: { default: 'override' }, typeMismatch: 'skip' });
        expect(report.outcome).toBe('done');
        await expectTarget(MISMATCHED);
        expect(report.totals).toEqual(counts({ skipped: 6, typeMismatch: 6 }));
        expect(report.conflicts.total).toBe(6);
      });

      it('fail stops the run at the key, names it, and leaves the target key unchanged', async () => {
        await seed(servers.s[0]!, { clash: hash({ f: 'v' }) });
        await seed(servers.t, { clash: str('target string') });
        const report = await servers.merge({ strategies: { default: 'override' }, typeMismatch: 'fail' });
        expect(report.outcome).toBe('failed');
        expect(report.error).toContain('clash');
        expect(report.totals).toEqual(counts({ failed: 1, typeMismatch: 1 }));
        expect(await readValue(servers.t, 'clash')).toEqual(normalize(str('target string')));
      });

      it('fail in a dry run counts the key as failed and goes on with the other keys', async () => {
        await seed(servers.s[0]!, { clash: hash({ f: 'v' }), a: str('1'), b: list('x'), c: set('y') });
        await seed(servers.t, { clash: str('target string'), a: str('0') });
        const report = await servers.merge(
          { strategies: { default: 'override' }, typeMismatch: 'fail' },
          { dryRun: true },
        );
        expect(report.dryRun).toBe(true);
        expect(report.totals).toEqual(counts({ failed: 1, typeMismatch: 1, created: 2, overridden: 1 }));
        expect(report.byType.hash).toEqual(counts({ failed: 1, typeMismatch: 1 }));
        expect(report.conflicts.sample).toContainEqual({
          key: 'clash',
          source: 's1',
          sourceType: 'hash',
          targetType: 'string',
          action: 'failed',
        });
        expect(await keyCount(servers.t)).toBe(2);
      });
    });
}
