/**
 * Into a target that was empty when the run began, a small key's create is sent as a RESTORE without
 * REPLACE without asking the target first (probe/absence.ts): the target sees no TYPE for those keys.
 * A key an earlier source already wrote is refused (BUSYKEY), decided again with the target asked, and
 * folded as SPEC §1 says; once many are refused the target is asked about every key again. A target
 * that held keys is always asked.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { rollback } from '../../src/index.js';
import { hash, list, seedAll, str, type Value } from '../harness/data.js';
import { useServers } from '../harness/merge-servers.js';
import { fresh } from '../harness/scratch.js';

/** calls and failed_calls of one command since the last CONFIG RESETSTAT. */
async function stat(r: Redis, command: string): Promise<{ calls: number; failed: number }> {
  const line = new RegExp(`^cmdstat_${command}:calls=(\\d+).*?failed_calls=(\\d+)`, 'm').exec(
    await r.info('commandstats'),
  );
  return { calls: Number(line?.[1] ?? 0), failed: Number(line?.[2] ?? 0) };
}

const KEYS = 2000;

/** A string, a hash and a list for each of keys `from`..`to`, valued by `tag`. */
function shard(from: number, to: number, tag: string): Record<string, Value> {
  const keys: Record<string, Value> = {};
  for (let i = from; i < to; i++) {
    keys[`s:${i}`] = str(`${tag}${i}`);
    keys[`h:${i}`] = hash({ f: `${tag}${i}` });
    keys[`l:${i}`] = list(tag, `${i}`);
  }
  return keys;
}

describe('creates into an empty target', () => {
  const servers = useServers(2);

  it('are sent without asking the target; a key an earlier source wrote is decided again and folded', async () => {
    // Disjoint shards, but for 20 keys of each type held by both sources.
    await seedAll(servers, { sources: [shard(0, KEYS, 'a'), shard(KEYS - 20, 2 * KEYS, 'b')] });
    await servers.t.config('RESETSTAT');
    const report = await servers.merge({
      strategies: { string: 'override', hash: 'merge', list: 'merge' },
      merge: { list: 'append' },
    });
    expect(report.outcome, report.error).toBe('done');
    const keys = 3 * (2 * KEYS);
    expect(report.totals).toMatchObject({ scanned: keys + 60, created: keys, merged: 40, overridden: 20 });
    expect(report.totals.sourceOverlap).toBe(60);
    // The fold: the later source's string wins, the lists hold both sides in order.
    expect(await servers.t.get(`s:${KEYS - 1}`)).toBe(`b${KEYS - 1}`);
    expect(await servers.t.lrange(`l:${KEYS - 1}`, 0, -1)).toEqual(['a', `${KEYS - 1}`, 'b', `${KEYS - 1}`]);
    expect(await servers.t.hget(`h:${KEYS - 1}`, 'f')).toBe(`b${KEYS - 1}`);
    expect(await servers.t.get('s:0')).toBe('a0');
    // No TYPE for the creates: only for the 60 shared keys decided again (in a script per batch), whose
    // RESTOREs were refused once each. Asked about every key, the target would have run 12,060.
    const restores = await stat(servers.t, 'restore');
    expect(restores.failed).toBe(60);
    // The creates, the 60 refused, and the 20 string overrides (RESTORE … REPLACE).
    expect(restores.calls).toBe(keys + 60 + 20);
    const types = (await stat(servers.t, 'type')).calls;
    expect(types).toBeGreaterThanOrEqual(60);
    expect(types).toBeLessThan(100);
  });

  it('asks the target again once many RESTOREs were refused (sources that share their keys)', async () => {
    await seedAll(servers, { sources: [shard(0, KEYS, 'a'), shard(0, KEYS, 'b')] });
    await servers.t.config('RESETSTAT');
    const report = await servers.merge({ strategies: { default: 'override' }, write: { concurrency: 1 } });
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toMatchObject({ created: 3 * KEYS, overridden: 3 * KEYS });
    expect(await servers.t.get('s:7')).toBe('b7');
    // A few dozen refusals, then the target is asked: not one refusal per shared key.
    const refused = (await stat(servers.t, 'restore')).failed;
    expect(refused).toBeGreaterThan(32);
    expect(refused).toBeLessThan(1000);
  });

  it('with the backup journal: every create journaled absent, and the rollback leaves the target empty again', async () => {
    await seedAll(servers, { sources: [shard(0, KEYS, 'a'), shard(KEYS - 20, 2 * KEYS, 'b')] });
    await servers.t.config('RESETSTAT');
    const backup = fresh('run.journal');
    const report = await servers.merge(
      { strategies: { string: 'override', hash: 'merge', list: 'merge' }, merge: { list: 'append' } },
      { backup },
    );
    expect(report.outcome, report.error).toBe('done');
    // The shared keys decided again, and their priors read for the journal: not one TYPE per key.
    expect((await stat(servers.t, 'type')).calls).toBeLessThan(200);
    expect(await servers.t.lrange(`l:${KEYS - 1}`, 0, -1)).toEqual(['a', `${KEYS - 1}`, 'b', `${KEYS - 1}`]);
    const undone = await rollback({ backup, target: servers.target.url });
    expect(undone).toMatchObject({ outcome: 'done', deleted: 3 * 2 * KEYS, restored: 0 });
    expect(await servers.t.dbsize()).toBe(0);
  });

  it('into a target that holds keys, asks it about every key', async () => {
    await seedAll(servers, { sources: [shard(0, KEYS, 'a')] });
    await servers.t.set('unrelated', 'x');
    await servers.t.config('RESETSTAT');
    const report = await servers.merge({ strategies: { default: 'override' } });
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals.created).toBe(3 * KEYS);
    expect((await stat(servers.t, 'restore')).failed).toBe(0);
    expect((await stat(servers.t, 'type')).calls).toBeGreaterThanOrEqual(3 * KEYS);
  });
});
