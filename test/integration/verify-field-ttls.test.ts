/**
 * verify compares hash field TTLs (HPEXPIRE, Redis 7.4+) where both sides keep them and the run kept
 * the hash whole (a DUMP/RESTORE create or override): a field whose TTL was lost or changed is named.
 * After a native run, or on a merged hash, they are not compared (those paths drop them: README).
 */
import { expect, it } from 'vitest';
import { verify } from '../../src/index.js';
import { hash, seed } from '../harness/data.js';
import { type MergeConfig, useServers } from '../harness/merge-servers.js';
import { describeServer } from '../harness/servers.js';

describeServer('redis-7.4.1', 'verify, hash field TTLs on Redis 7.4', () => {
  const servers = useServers(1, { source: { server: 'redis-7.4.1' }, target: { server: 'redis-7.4.1' } });

  it('equal after a dump run; a field TTL lost or changed on the target is named', async () => {
    const [s] = servers.s;
    await seed(s!, { hf: hash({ a: '1', b: '2', c: '3' }), plain: hash({ x: '1' }) });
    await s!.call('HPEXPIRE', 'hf', 600_000, 'FIELDS', 2, 'a', 'b');
    const config: MergeConfig = { strategies: { default: 'override' } };
    await servers.merge(config);
    expect(await servers.t.call('HPTTL', 'hf', 'FIELDS', 1, 'a')).toEqual([expect.any(Number)]);
    const plan = servers.plan(config);
    expect((await verify(plan)).listed).toEqual([]);

    await servers.t.call('HPERSIST', 'hf', 'FIELDS', 1, 'a');
    expect((await verify(plan)).listed).toEqual([
      {
        key: 'hf',
        expected: expect.stringMatching(/^hash \{.*\}, no TTL, field "a" TTL 59\d{4} ms$/),
        found: expect.stringMatching(/^hash \{.*\}, no TTL, field "a" without TTL$/),
      },
    ]);
    await servers.t.call('HPEXPIRE', 'hf', 600_000, 'FIELDS', 1, 'a');
    await servers.t.call('HPEXPIRE', 'hf', 30_000, 'FIELDS', 1, 'b');
    const changed = await verify(plan);
    expect(changed.listed.map((d) => d.found)).toEqual([expect.stringMatching(/field "b" TTL 2\d{4} ms$/)]);
  });

  it('not compared after a native run, nor on a merged hash', async () => {
    const [s] = servers.s;
    await seed(s!, { hf: hash({ a: '1' }) });
    await s!.call('HPEXPIRE', 'hf', 600_000, 'FIELDS', 1, 'a');
    const native: MergeConfig = { strategies: { default: 'override' }, write: { mode: 'native' } };
    await servers.merge(native);
    expect(await servers.t.call('HPTTL', 'hf', 'FIELDS', 1, 'a')).toEqual([-1]);
    expect((await verify(servers.plan(native))).listed).toEqual([]);
    // The same target checked as after a dump run: the lost field TTL is a difference.
    expect((await verify(servers.plan({ strategies: { default: 'override' } }))).differences).toBe(1);
    const merged: MergeConfig = { strategies: { default: 'merge', string: 'override', stream: 'override' } };
    await seed(servers.t, { hf: hash({ own: 'x' }) });
    await servers.merge(merged);
    expect((await verify(servers.plan(merged))).listed).toEqual([]);
  });
});
