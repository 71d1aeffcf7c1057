/**
 * `kvmerge verify` with RDB files as sources (SPEC §6.5, §10): the sources are SAVEd to files after
 * they are seeded, the merge reads the files, and verify reads the same files. After a correct run it
 * finds nothing (every strategy, with and without the journal's priors); a target changed after the
 * run is named exactly as verify names it when it reads the live servers that saved the files; a file
 * beside a live source, a key already expired in the file, --sample and the CLI.
 */
import { truncate, writeFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type JournaledKey, type MergePlan, resolvePlan, runMerge, verify } from '../../src/index.js';
import { Crc64 } from '../../src/rdb/crc64.js';
import { kvmerge } from '../harness/cli-run.js';
import { seedAll } from '../harness/data.js';
import { type MergeConfig, useServers } from '../harness/merge-servers.js';
import { saveRdb } from '../harness/rdb-files.js';
import { fresh } from '../harness/scratch.js';
import { describeServer } from '../harness/servers.js';
import { ALL_KEYS, differences, iterate, LAYOUT, priorsBefore } from '../harness/verify-layout.js';

/**
 * Strategies, and the keys of the changes made after the run (TAMPER) that a check without the journal
 * can see under each (with the journal, every one): under merge a created key's TTL comes from its
 * unknown prior too (ttl max), a set may hold more; under skip a kept value could have been anything.
 */
const STRATEGIES: [string, MergeConfig, string[]][] = [
  [
    'merge',
    {
      strategies: { default: 'merge', string: 'override', stream: 'skip' },
      typeMismatch: 'override',
      merge: { zsetScore: 'max', list: 'append', ttl: 'max' },
    },
    ['only2', 'str'],
  ],
  [
    'override',
    { strategies: { default: 'override' }, typeMismatch: 'override' },
    ['only1', 'only2', 'st', 'str'],
  ],
  ['skip', { strategies: { default: 'skip' }, typeMismatch: 'skip' }, ['only2']],
];

/** A value altered, a key deleted, a TTL changed, a member added. */
async function tamper(t: Redis): Promise<void> {
  await t.set('str', 'tampered');
  await t.del('only2');
  await t.pexpire('only1', 50_000);
  await t.sadd('st', 'extra');
}

describe('verify with RDB file sources', () => {
  const servers = useServers(2);

  /** Seeds the layout, SAVEs both sources: the files, and a plan over `urls` of them. */
  async function seeded(): Promise<{ files: string[]; priors: JournaledKey[] }> {
    await seedAll(servers, LAYOUT);
    const files = await Promise.all(servers.sources.map((s, i) => saveRdb(s, `s${i + 1}.rdb`)));
    return { files, priors: await priorsBefore(servers.t, ALL_KEYS) };
  }
  /** The plan of `config` over exactly these sources (files or servers' URLs), in this order. */
  const planOf = (config: MergeConfig, urls: string[]): MergePlan =>
    resolvePlan(
      { ...servers.doc(config), sources: urls.map((url, i) => ({ url, name: `s${i + 1}` })) },
      {},
      {},
    );

  for (const [name, config, seen] of STRATEGIES) {
    it(`finds no difference after a merge of files (${name}), and names a changed target as with live sources`, async () => {
      const { files, priors } = await seeded();
      const filePlan = planOf(config, files);
      const livePlan = servers.plan(config);
      const run = await runMerge(filePlan);
      expect(run.outcome).toBe('done');

      const loose = await verify(filePlan);
      expect(loose).toMatchObject({ outcome: 'equal', differences: 0, checked: ALL_KEYS.length });
      const exact = await verify(filePlan, { priors: iterate(priors) });
      expect(exact).toMatchObject({ outcome: 'equal', differences: 0, exact: ALL_KEYS.length });
      // Every key compared in windows: on the target and in the files (bigKeyBytes 1), or on the target
      // only, the files' values whole beside them (bigKeyElements 1).
      for (const write of [{ bigKeyBytes: 1 }, { bigKeyElements: 1 }]) {
        const windowed = planOf({ ...config, write }, files);
        expect(await verify(windowed)).toMatchObject({ differences: 0, checked: ALL_KEYS.length });
        const exactly = await verify(windowed, { priors: iterate(priors) });
        expect(exactly).toMatchObject({ differences: 0, exact: ALL_KEYS.length });
      }

      await tamper(servers.t);
      const loosely = await differences(filePlan);
      expect(loosely).toEqual(await differences(livePlan));
      expect(Object.keys(loosely).sort()).toEqual(seen);
      const exactly = await differences(filePlan, { priors: iterate(priors) });
      expect(exactly).toEqual(await differences(livePlan, { priors: iterate(priors) }));
      expect(Object.keys(exactly).sort()).toEqual(['only1', 'only2', 'st', 'str']);
      expect((await verify(filePlan)).outcome).toBe('different');
    });
  }

  it('reads a file beside a live source (in both orders) and checks a sample of keys', async () => {
    const config = STRATEGIES[0]![1];
    const { files } = await seeded();
    for (const urls of [
      [files[0]!, servers.sources[1]!.url],
      [servers.sources[0]!.url, files[1]!],
    ]) {
      await servers.t.flushall();
      await seedAll(servers, { target: LAYOUT.target });
      const plan = planOf(config, urls);
      expect((await runMerge(plan)).outcome).toBe('done');
      expect(await verify(plan)).toMatchObject({ differences: 0, checked: ALL_KEYS.length });
      expect(await verify(plan, { sample: 4 })).toMatchObject({ differences: 0, checked: 4, sample: 4 });
      await servers.t.hset('h', 'c', 'tampered');
      expect(await differences(plan)).toEqual(await differences(servers.plan(config)));
      expect(Object.keys(await differences(plan))).toEqual(['h']);
    }
  });

  it('a key already expired in the file is no key of the fold: not checked, not expected', async () => {
    await servers.s[0]!.set('gone', 'v', 'PX', 300);
    await servers.s[0]!.set('kept', 'v', 'PX', 600_000);
    const file = await saveRdb(servers.sources[0]!, 'expiring.rdb');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const plan = planOf({ strategies: { default: 'override' } }, [file]);
    const run = await runMerge(plan);
    expect(run.totals).toMatchObject({ expired: 1, created: 1 });
    expect(await verify(plan)).toMatchObject({ checked: 1, differences: 0 });
    // The target's own key of that name is not the file's business: the run never touches it.
    await servers.t.set('gone', 'the target’s own');
    expect(await verify(plan)).toMatchObject({ checked: 1, differences: 0 });
    await servers.t.pexpire('kept', 10_000);
    expect(await differences(plan)).toEqual({
      kept: ['"v", TTL n ms', '"v", TTL n ms'],
    });
  });

  it('a value verify cannot decode (a zipmap hash, RDB before Redis 2.6) is a difference naming the file, its offset and why', async () => {
    // Built byte by byte: no test server writes a zipmap. SELECTDB 0, the zipmap `zm`, the string `plain`.
    const str = (s: string): Buffer => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);
    const body = Buffer.concat([
      Buffer.from('REDIS0006'),
      Buffer.from([0xfe, 0]),
      Buffer.from([9]),
      str('zm'),
      str('a zipmap blob'),
      Buffer.from([0]),
      str('plain'),
      str('v'),
      Buffer.from([0xff]),
    ]);
    const path = fresh('zipmap.rdb');
    await writeFile(path, Buffer.concat([body, new Crc64().update(body).bytes()]));
    await servers.t.set('plain', 'v');
    await servers.t.hset('zm', 'f', 'v');
    const report = await verify(planOf({ strategies: { default: 'override' } }, [path]));
    expect(report).toMatchObject({ checked: 2, differences: 1, outcome: 'different' });
    expect(report.listed).toEqual([
      {
        key: 'zm',
        expected: `source s1's hash (byte 11 of ${path}), which verify cannot read: a zipmap hash (RDB before Redis 2.6) is not decoded`,
        found: 'not compared',
      },
    ]);
  });

  it('CLI: kvmerge verify -s FILE exits 0 after the run, 1 with the difference named, 2 on a damaged file', async () => {
    const { files } = await seeded();
    const journal = fresh('run.journal');
    // The same sources, target and strategies for the run and for verify.
    const plan = [
      ...files.flatMap((f) => ['-s', f]),
      '-t',
      servers.target.url,
      '--on-conflict',
      'override',
      '--type-mismatch',
      'override',
    ];
    const merge = await kvmerge([...plan, '--backup', journal]);
    expect(merge.code, merge.stderr).toBe(0);
    const args = ['verify', ...plan];
    const clean = await kvmerge(args);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).toMatch(/verified 11 keys .*: 0 differences/);
    const exact = await kvmerge([...args, '--backup', journal]);
    expect(exact.code, exact.stderr).toBe(0);

    await servers.t.set('str', 'tampered');
    const changed = await kvmerge(args);
    expect(changed.code, changed.stderr).toBe(1);
    expect(changed.stdout.trim()).toBe('"str": expected "two", no TTL; found "tampered", no TTL');

    await truncate(files[1]!, 40);
    const damaged = await kvmerge(args);
    expect(damaged.code).toBe(2);
    expect(damaged.stderr.trim().split('\n')).toHaveLength(1);
    expect(damaged.stderr).toContain(files[1]!);
  });
});

describe('verify with an RDB file: its database, prefix and match', () => {
  const servers = useServers(1);

  it('checks the keys of the db that ?db=N names, within match, under the prefix', async () => {
    const db1 = servers.sources[0]!.client(1);
    await db1.set('user:1', 'a', 'PX', 600_000);
    await db1.hset('user:2', 'f', 'v');
    await db1.set('other', 'not matched');
    await servers.s[0]!.set('user:in-db0', 'not this db');
    const path = await saveRdb(servers.sources[0]!, 'dbs.rdb');
    const plan = resolvePlan(
      {
        ...servers.doc({ strategies: { default: 'override' } }),
        sources: [{ url: `file://${path}?db=1`, name: 'backup', match: 'user:*', prefix: 'b:' }],
      },
      {},
      {},
    );
    expect((await runMerge(plan)).totals).toMatchObject({ created: 2 });
    expect(await verify(plan)).toMatchObject({ checked: 2, differences: 0 });
    await servers.t.pexpire('b:user:1', 5_000);
    await servers.t.hset('b:user:2', 'f', 'changed');
    expect((await verify(plan)).listed.sort((a, b) => a.key!.localeCompare(b.key!))).toEqual([
      {
        key: 'b:user:1',
        expected: expect.stringMatching(/^"a", TTL 5\d{5} ms$/),
        found: expect.stringMatching(/^"a", TTL \d{4} ms$/),
      },
      { key: 'b:user:2', expected: 'hash {"f": "v"}, no TTL', found: 'hash {"f": "changed"}, no TTL' },
    ]);
  });
});

describeServer('redis-7.4.1', 'verify with an RDB file of Redis 7.4: hash field TTLs', () => {
  const servers = useServers(1, { target: { server: 'redis-7.4.1' }, source: { server: 'redis-7.4.1' } });

  it("compares a created hash's field TTLs with the file's, as with the live server", async () => {
    const s = servers.s[0]!;
    await s.hset('h', 'a', '1', 'b', '2', 'c', '3');
    await s.call('HPEXPIRE', 'h', 3_600_000, 'FIELDS', 2, 'a', 'b');
    const path = await saveRdb(servers.sources[0]!, 'v12.rdb');
    const config: MergeConfig = { strategies: { default: 'override' } };
    const plan = resolvePlan({ ...servers.doc(config), sources: [{ url: path, name: 's1' }] }, {}, {});
    expect((await runMerge(plan)).outcome).toBe('done');
    expect(await verify(plan)).toMatchObject({ checked: 1, differences: 0 });
    await servers.t.call('HPEXPIRE', 'h', 60_000, 'FIELDS', 1, 'a');
    await servers.t.call('HPERSIST', 'h', 'FIELDS', 1, 'b');
    const fromFile = await differences(plan);
    expect(fromFile).toEqual(await differences(servers.plan(config)));
    // The first field whose TTL differs, in the hash's order: "a" (another TTL) or "b" (none now).
    expect(fromFile.h![0]).toMatch(/, field "[ab]" TTL n ms$/);
  });
});
