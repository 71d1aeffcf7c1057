/**
 * The journal on a Pika 3.5 target (SPEC §6.2, §6.3, §7), where one name holds several types and DEL
 * or PEXPIRE act on all of them: each step's prior is of its own type, and rollback and resume put
 * that type back without touching the name's other types (a big one window by window), with the
 * name's expiry as it was before the run.
 */
import type { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { rollback } from '../../src/index.js';
import { readHeader } from '../../src/journal/reader.js';
import {
  hash,
  list,
  readValue,
  seedAll,
  set,
  str,
  type TypeName,
  type Value,
  zset,
} from '../harness/data.js';
import { forgetApplied } from '../harness/journal-edit.js';
import { type MergeConfig, useServers } from '../harness/merge-servers.js';
import { fresh } from '../harness/scratch.js';
import { describeServer } from '../harness/servers.js';

const NAMES = 20;
const bigHash = (which: string, fields: number): Value =>
  hash(Array.from({ length: fields }, (_, f): [string, string] => [`f${f}`, which]));

/** Names of several types on both sides, written with `add` (each type beside the name's others). */
const LAYOUT = (() => {
  const t: [string, Value][] = [];
  const s: [string, Value][] = [];
  for (let i = 0; i < NAMES; i++) {
    const name = `mt${i}`;
    t.push([name, str(`t-${i}`)], [name, hash({ old: 'x', f: 't' })], [name, set('t1')]);
    if (i % 2 === 0) t.push([name, list('t-l')]);
    s.push(
      [name, hash({ f: 's', g: 's' })],
      [name, set('s1')],
      [name, list('l1', 'l2')],
      [name, zset(['m', i])],
    );
  }
  // A name only the source holds, with two types: both created.
  s.push(['new', str('n')], ['new', hash({ a: '1' })]);
  // A big hash on the target (over bigKeyElements), merged into: its prior is journaled in windows.
  t.push(['big', bigHash('t', 300)], ['big', str('big-string')]);
  s.push(['big', bigHash('s', 320)]);
  // The run's expiry of a list it creates changes the name's other types' expiry too (PEXPIRE acts on
  // every type): rollback gives the name its expiry back (EXPIRE below, once the name's types are written).
  t.push(['ttl', hash({ h: 'v' })], ['ttl', str('v')]);
  s.push(['ttl', list('x')]);
  return { target: t, sources: [s] };
})();

/** Every name with each type it holds and whether it has an expiry (PTTL is the name's on Pika 3.x). */
async function snapshot(r: Redis): Promise<Record<string, unknown>> {
  const names = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) names.add(key);
  } while (cursor !== '0');
  const out: Record<string, unknown> = {};
  for (const name of [...names].sort()) {
    const types = (await r.call('PTYPE', name)) as string[];
    const values: Partial<Record<TypeName, Value>> = {};
    for (const type of types)
      values[type as TypeName] = await readValue(r, name, undefined, type as TypeName);
    out[name] = { values, ttl: (await r.pttl(name)) >= 0 };
  }
  return out;
}

describeServer('pika-3.5.5', 'the journal on a Pika 3.5 target: one name, several types', () => {
  const servers = useServers(1, { source: { server: 'pika-3.5.5' }, target: { server: 'pika-3.5.5' } });
  const config: MergeConfig = {
    strategies: { default: 'merge', string: 'override', stream: 'override' },
    merge: { list: 'append', ttl: 'source' },
    write: { batchSize: 8, bigKeyElements: 100 },
  };

  it('rollback puts back each type the run changed and leaves the others; resume re-applies each once', async () => {
    await seedAll(servers, LAYOUT, { add: true });
    await servers.t.expire('ttl', 100);
    await servers.s[0]!.expire('ttl', 40);
    const before = await snapshot(servers.t);
    const backup = fresh('run.journal');
    const report = await servers.merge(config, { backup });
    expect(report.outcome, report.error).toBe('done');
    expect((await readHeader(backup)).typedPriors).toBe(true);
    const after = await snapshot(servers.t);
    expect(after).not.toEqual(before);
    // The run appended to the list and set an expiry on the name: every type of `ttl` has 40 s now.
    expect(await servers.t.ttl('ttl')).toBeLessThanOrEqual(40);

    const undo = await rollback({ backup, target: servers.target.url });
    expect(undo.outcome).toBe('done');
    expect(await snapshot(servers.t)).toEqual(before);
    expect(await servers.t.ttl('ttl')).toBeGreaterThan(90);
    // Run twice, nothing changes.
    await rollback({ backup, target: servers.target.url });
    expect(await snapshot(servers.t)).toEqual(before);

    // A crash that lost every `applied` mark: each step's type is put back from its prior and applied
    // again, once (the appended lists would show a second application).
    const again = fresh('again.journal');
    expect((await servers.merge(config, { backup: again })).outcome).toBe('done');
    expect(await snapshot(servers.t)).toEqual(after);
    const crashed = fresh('lost-marks.journal');
    await forgetApplied(again, crashed, [0]);
    const resumed = await servers.merge(config, { backup: crashed, resume: true });
    expect(resumed.outcome, resumed.error).toBe('done');
    expect(await snapshot(servers.t)).toEqual(after);
  }, 180_000);
});
