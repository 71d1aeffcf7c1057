/**
 * verify where one name holds several types (Pika 3.5.5, SPEC §7): each (name, type) is a step of
 * the fold. From a Pika 3.5 source into Redis the types of a name fold onto one key in the order
 * string > hash > list > zset > set, then stream; on a Pika 3.5 target each type lives beside the
 * others and is checked on its own. Equal after real runs; a tampered type of a name is named.
 */
import { describe, expect, it } from 'vitest';
import { verify } from '../../src/index.js';
import {
  addType,
  hash,
  list,
  MULTI,
  seed,
  seedAll,
  set,
  str,
  stream,
  type Value,
  zset,
} from '../harness/data.js';
import { type MergeConfig, useServers } from '../harness/merge-servers.js';
import { describeServer } from '../harness/servers.js';

/**
 * The source: a name of every type (and a stream), a name of two types, names of one type (written
 * with `add`: one type at a time, the others kept).
 */
const SOURCE: [string, Value][] = [
  ...MULTI.map((value): [string, Value] => ['mt', value]),
  ['mt', stream(['1-1', ['f', 'v']])],
  ['two', hash({ a: '1' })],
  ['two', set('p')],
  ['h', hash({ k: 'v' })],
  ['l', list('q')],
];

describeServer('pika-3.5.5', 'verify with Pika 3.5 names of several types', () => {
  describe('Pika 3.5 into Redis', () => {
    const servers = useServers(1, { source: { server: 'pika-3.5.5' } });

    for (const [name, config] of [
      [
        'typeMismatch override: the last type wins',
        { strategies: { default: 'override' }, typeMismatch: 'override' },
      ],
      [
        'typeMismatch skip: the first type stays',
        { strategies: { default: 'merge', string: 'override', stream: 'skip' }, typeMismatch: 'skip' },
      ],
    ] as [string, MergeConfig][]) {
      it(`equal after a run (${name}); a tampered key named`, async () => {
        await seedAll(servers, { sources: [SOURCE] }, { add: true });
        await seed(servers.t, { two: set('own') });
        const run = await servers.merge(config);
        expect(run.outcome, run.error).toBe('done');
        const plan = servers.plan(config);
        const report = await verify(plan);
        expect(report.listed).toEqual([]);
        // One check per target key: mt, two, h, l.
        expect(report.checked).toBe(4);
        await servers.t.sadd('two', 'extra');
        await servers.t.hset('h', 'k', 'tampered');
        const after = await verify(plan);
        const keys = after.listed.map((d) => d.key).sort();
        // Under typeMismatch skip the target's own set keeps what it holds: an extra member passes.
        expect(keys).toEqual(config.typeMismatch === 'skip' ? ['h'] : ['h', 'two']);
      });
    }
  });

  describe('Pika 3.5 into Pika 3.5', () => {
    const servers = useServers(1, { source: { server: 'pika-3.5.5' }, target: { server: 'pika-3.5.5' } });

    it('each type of a name is checked on its own: equal after a run; a tampered type named', async () => {
      await seedAll(servers, { sources: [SOURCE] }, { add: true });
      // The target's own types of `two`: a string beside the hash and set the source brings.
      await addType(servers.t, 'two', str('target-string'));
      await addType(servers.t, 'two', hash({ a: 'old', b: 't' }));
      const config: MergeConfig = {
        strategies: { default: 'skip', hash: 'override', set: 'merge', list: 'override' },
      };
      const run = await servers.merge(config);
      expect(run.outcome, run.error).toBe('done');
      const plan = servers.plan(config);
      const report = await verify(plan);
      expect(report.listed).toEqual([]);
      // mt: 6 types; two: string, hash, set; h; l.
      expect(report.checked).toBe(11);
      await servers.t.hset('two', 'a', 'tampered');
      await servers.t.lset('mt', 0, 'X');
      const after = await verify(plan);
      expect(after.listed.sort((a, b) => a.key!.localeCompare(b.key!))).toEqual([
        { key: 'mt', expected: 'list ["x", "y"], no TTL', found: 'list ["X", "y"], no TTL' },
        { key: 'two', expected: 'hash {"a": "1"}, no TTL', found: 'hash {"a": "tampered"}, no TTL' },
      ]);
    });

    it('Redis into Pika 3.5: a name the target holds as two types', async () => {
      // The source is Pika 3.5 too here (one server pair); names of one type, as a Redis source holds.
      await seed(servers.s[0]!, { two: hash({ a: '1' }), solo: zset(['m', 1]) });
      await addType(servers.t, 'two', str('target-string'));
      const config: MergeConfig = { strategies: { default: 'override' } };
      await servers.merge(config);
      const report = await verify(servers.plan(config));
      expect(report.listed).toEqual([]);
      expect(report.checked).toBe(3);
      await servers.t.set('two', 'changed');
      const after = await verify(servers.plan(config));
      // The target's own string is not the run's business; its hash is.
      expect(after.listed).toEqual([]);
      await servers.t.hset('two', 'b', '2');
      expect((await verify(servers.plan(config))).listed.map((d) => d.found)).toEqual([
        'hash {"a": "1", "b": "2"}, no TTL',
      ]);
    });
  });
});
