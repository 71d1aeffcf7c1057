/**
 * `kvmerge verify` with big values in an RDB file source (SPEC §2.3, §10): under a write.bigKeyBytes of
 * 100 KB, a file's hash, list, zset, set and string of a few hundred KB are read from the file in
 * windows, never whole, and compared with the target in windows. After a correct run nothing differs
 * (with and without the journal's priors); a field, an element, a member or a byte changed on the
 * target afterwards is named exactly as verify names it when it reads the live server that saved the
 * file.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type MergePlan, resolvePlan, runMerge, verify } from '../../src/index.js';
import { kvmerge } from '../harness/cli-run.js';
import { type MergeConfig, useServers } from '../harness/merge-servers.js';
import { saveRdb } from '../harness/rdb-files.js';
import { fresh } from '../harness/scratch.js';
import { differences, iterate, priorsBefore } from '../harness/verify-layout.js';

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
/** `s` and 88 bytes of its SHA-512, which LZF cannot shrink: the file holds the value at its full size. */
const pad = (s: string): string => `${s}:${createHash('sha512').update(s).digest('base64')}`;
/** A value counts as big over this many bytes in these tests: every value below is several times it. */
const BIG_BYTES = 100_000;
const KEYS = ['bigh', 'bigl', 'bigz', 'bigset', 'bigs', 'small'];

async function seedBig(s1: Redis, s2: Redis, t: Redis): Promise<void> {
  await s1.hset('bigh', ...range(3000, (i) => [`f${i}`, pad(`s1-${i}`)]).flat());
  await s1.rpush('bigl', ...range(3000, (i) => pad(`e${i}`)));
  await s1.zadd('bigz', ...range(3000, (i) => [String(i / 4), pad(`m${i}`)]).flat());
  await s1.sadd('bigset', ...range(3000, (i) => pad(`member${i}`)));
  await s1.set('bigs', randomBytes(300_000));
  await s1.pexpire('bigh', 600_000);
  await s1.set('small', 'v');
  // The live source and the target overlap with the file's big keys.
  await s2.hset('bigh', 'f7', 's2', 'only-s2', 'x');
  await s2.rpush('bigl', 'from-s2');
  await s2.zadd('bigz', 1_000_000, pad('m5'));
  await t.hset('bigh', 'f8', 'target', 'only-target', 'y');
  await t.rpush('bigl', 'target-first');
  await t.sadd('bigset', 'target-member');
}

describe('verify with big values in an RDB file', () => {
  const servers = useServers(2);
  const planOf = (config: MergeConfig, urls: string[], bigKeyBytes: number): MergePlan =>
    resolvePlan(
      {
        ...servers.doc({ ...config, write: { bigKeyBytes } }),
        sources: urls.map((url, i) => ({ url, name: `s${i + 1}` })),
      },
      {},
      {},
    );

  for (const merge of [
    { list: 'append', zsetScore: 'max', hashField: 'source' },
    { list: 'prepend', zsetScore: 'sum', hashField: 'target', ttl: 'min' },
  ]) {
    const config: MergeConfig = {
      strategies: { default: 'merge', string: 'override', stream: 'skip' },
      merge,
    };
    it(`compares a big hash, list, zset, set and string of the file in windows, as with the live server (${merge.list}, ${merge.zsetScore})`, async () => {
      await seedBig(servers.s[0]!, servers.s[1]!, servers.t);
      const file = await saveRdb(servers.sources[0]!, 'big.rdb');
      const priors = await priorsBefore(servers.t, KEYS);
      // The merge copies them from the file in windows too, under the same plan.
      const plan = planOf(config, [file, servers.sources[1]!.url], BIG_BYTES);
      const run = await runMerge(plan);
      expect(run.outcome).toBe('done');
      const live = planOf(
        config,
        servers.sources.map((s) => s.url),
        BIG_BYTES,
      );
      expect(await verify(plan)).toMatchObject({ differences: 0, checked: KEYS.length, outcome: 'equal' });
      expect(await verify(plan, { priors: iterate(priors) })).toMatchObject({
        differences: 0,
        exact: KEYS.length,
      });

      await servers.t.hset('bigh', 'f1500', 'tampered');
      await servers.t.lset('bigl', 2000, 'X');
      await servers.t.zadd('bigz', 0, pad('m2999'));
      // Deleted: the fold's value is then shown by its size, as a big key's (never read whole to show it).
      await servers.t.del('bigset');
      const byte = (await servers.t.getrangeBuffer('bigs', 250_000, 250_000))[0]!;
      await servers.t.setrange('bigs', 250_000, Buffer.from([byte ^ 0xff]));
      const fromFile = await differences(plan);
      expect(fromFile).toEqual(await differences(live));
      // Without the journal, a zset sum and a target-wins field may hold any value: those are not seen.
      const seen =
        merge.list === 'append' ? ['bigh', 'bigl', 'bigs', 'bigset', 'bigz'] : ['bigl', 'bigs', 'bigset'];
      expect(Object.keys(fromFile).sort()).toEqual(seen);
      if (merge.list === 'append') expect(fromFile.bigh![1]).toContain('"f1500": "tampered"');
      expect(fromFile.bigset).toEqual(['set of 3000 members, no TTL', 'no key']);
      const exact = await differences(plan, { priors: iterate(priors) });
      expect(exact).toEqual(await differences(live, { priors: iterate(priors) }));
      expect(Object.keys(exact).sort()).toEqual(['bigh', 'bigl', 'bigs', 'bigset', 'bigz']);
    });
  }

  it("CLI with the run's journal: a big prior journaled in windows, merged with a big file value, checked exactly", async () => {
    await seedBig(servers.s[0]!, servers.s[1]!, servers.t);
    // The target's own hash is big too: its prior is journaled in windows, walked in the journal.
    await servers.t.hset('bigh', ...range(2000, (i) => [`t${i}`, pad(`t-${i}`)]).flat());
    const file = await saveRdb(servers.sources[0]!, 'big-journal.rdb');
    const journal = fresh('big.journal');
    const args = [
      ...['-s', file, '-s', servers.sources[1]!.url, '-t', servers.target.url],
      ...['--on-conflict', 'merge', '--string', 'override', '--stream', 'skip', '--list-mode', 'append'],
      ...['--big-key-bytes', String(BIG_BYTES)],
    ];
    const merge = await kvmerge([...args, '--backup', journal]);
    expect(merge.code, merge.stderr).toBe(0);
    const exact = await kvmerge(['verify', ...args, '--backup', journal]);
    expect(exact.code, exact.stderr).toBe(0);
    expect(exact.stderr).toMatch(/verified 6 keys/);
    // A field of the target's own changed: any value passes without the journal, not with it.
    await servers.t.hset('bigh', 't1999', 'changed');
    expect((await kvmerge(['verify', ...args])).code).toBe(0);
    const changed = await kvmerge(['verify', ...args, '--backup', journal]);
    expect(changed.code, changed.stderr).toBe(1);
    expect(changed.stdout.trim()).toMatch(
      /^"bigh": expected .*"t1999": "t-1999:.*; found .*"t1999": "changed"/,
    );
  });
});
