/**
 * A big target key's prior state in bounded memory (SPEC §6.2): where the key the run changes is over
 * the big-key thresholds, the journal holds it as a native image in windows (one record each, of
 * bounded size), never as one DUMP payload; rollback puts it back exactly (DEBUG DIGEST-VALUE), TTL
 * included, by way of a temporary key in its slot that leaves nothing behind.
 */
import { open } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { resolvePlan, rollback, runMerge } from '../../src/index.js';
import { PRIOR_WINDOW_BYTES, restoreTempKey } from '../../src/journal/big-prior.js';
import { MAGIC } from '../../src/journal/format.js';
import { readRecords } from '../../src/journal/reader.js';
import { snapshot } from '../harness/data.js';
import { forgetApplied } from '../harness/journal-edit.js';
import { useServers } from '../harness/merge-servers.js';
import { startProxy } from '../harness/proxy.js';
import { digest } from '../harness/redis.js';
import { fresh } from '../harness/scratch.js';
import { describeServer } from '../harness/servers.js';

const ELEMENTS = 200_000;

/** Every frame's body length, read from the frame heads (the records themselves are not decoded). */
async function frameSizes(path: string): Promise<number[]> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const sizes: number[] = [];
    const head = Buffer.alloc(8);
    for (let at = MAGIC.length; at + 8 <= size; ) {
      await file.read(head, 0, 8, at);
      const length = head.readUInt32LE(0);
      sizes.push(length);
      at += 8 + length;
    }
    return sizes;
  } finally {
    await file.close();
  }
}

describe('a big key in the backup journal', () => {
  const servers = useServers(1);

  it(`a target hash and list of ${ELEMENTS} elements are journaled in bounded windows and rolled back exactly`, async () => {
    const t = servers.t;
    for (let i = 0; i < ELEMENTS; i += 5000) {
      const p = t.pipeline();
      p.hset(
        'bighash',
        ...Array.from({ length: 5000 }, (_, j) => [`field:${i + j}`, `value-${(i + j) % 977}`]).flat(),
      );
      p.rpush('biglist', ...Array.from({ length: 5000 }, (_, j) => `item-${i + j}`));
      p.zadd('bigzset', ...Array.from({ length: 5000 }, (_, j) => [(i + j) / 7, `m${i + j}`]).flat());
      await p.exec();
    }
    await t.pexpire('biglist', 800_000);
    await t.set('small', 'target');
    await servers.s[0]!.hset('bighash', 'field:1', 'source', 'new', 'source');
    await servers.s[0]!.rpush('biglist', 'appended');
    await servers.s[0]!.zadd('bigzset', 5, 'm1', 1, 'fresh');
    await servers.s[0]!.set('small', 'source');
    const before = await digest(servers.target);
    const values = async () =>
      Promise.all(['bighash', 'biglist', 'bigzset', 'small'].map((k) => t.call('DEBUG', 'DIGEST-VALUE', k)));
    const valuesBefore = await values();

    const backup = fresh('run.journal');
    const report = await servers.merge(
      {
        strategies: { hash: 'override', list: 'merge', zset: 'merge', string: 'override' },
        merge: { list: 'append', zsetScore: 'sum' },
      },
      { backup },
    );
    expect(report.outcome, report.error).toBe('done');
    expect(await t.hlen('bighash')).toBe(2);
    expect(await t.llen('biglist')).toBe(ELEMENTS + 1);
    expect(Number(await t.zscore('bigzset', 'm1'))).toBeCloseTo(1 / 7 + 5, 12);

    // The big keys' priors are windows; the small key's a DUMP payload.
    const kinds: Record<string, string> = {};
    let windows = 0;
    for await (const record of readRecords(backup)) {
      if (record.kind === 'before') kinds[record.key.toString()] = record.prior.kind;
      if (record.kind === 'window') windows++;
    }
    expect(kinds).toEqual({ bighash: 'windows', biglist: 'windows', bigzset: 'windows', small: 'dump' });
    // Many windows, none of them large: what the journal writer holds at once is bounded by a window,
    // not by the key (a DUMP of one of these keys is megabytes).
    expect(windows).toBeGreaterThan(3 * 8);
    const sizes = await frameSizes(backup);
    expect(Math.max(...sizes)).toBeLessThan(2 * PRIOR_WINDOW_BYTES);
    const dumpBytes = ((await t.callBuffer('DUMP', 'small')) as Buffer).length;
    expect(dumpBytes).toBeLessThan(100);

    const undone = await rollback({ backup, target: servers.target.url });
    expect(undone).toMatchObject({ keys: 4, restored: 4, deleted: 0, outcome: 'done' });
    expect(await values()).toEqual(valuesBefore);
    expect(await digest(servers.target)).toBe(before);
    const pttl = await t.pttl('biglist');
    expect(pttl).toBeGreaterThan(700_000);
    expect(pttl).toBeLessThanOrEqual(800_000);
    expect(await t.ttl('bighash')).toBe(-1);
    expect(await t.keys('kvmerge-tmp:*')).toEqual([]);

    // Again, after a rollback stopped half-way left its temporary key: the same target.
    await t.hset(restoreTempKey(Buffer.from('bighash')), 'stale', 'left by a killed rollback');
    await rollback({ backup, target: servers.target.url });
    expect(await digest(servers.target)).toBe(before);
  }, 120_000);

  it('a rollback whose connection is cut while it puts a big list back: rebuilt from its first window, none twice', async () => {
    const t = servers.t;
    for (let i = 0; i < ELEMENTS; i += 5000) {
      await t.rpush('biglist', ...Array.from({ length: 5000 }, (_, j) => `item-${i + j}`));
    }
    await servers.s[0]!.rpush('biglist', 'appended');
    const before = await digest(servers.target);
    // The journal names the target by its URL: the run and the rollback both go through the proxy.
    const proxy = await startProxy(servers.target.port);
    try {
      const backup = fresh('run.journal');
      const report = await runMerge(
        resolvePlan({
          sources: [{ url: servers.sources[0]!.url }],
          target: { url: proxy.url(servers.target.url) },
          strategies: { list: 'merge' },
          merge: { list: 'append' },
          safety: { backup },
        }),
      );
      expect(report.outcome, report.error).toBe('done');
      // The put-back sends about 2.6 MB of RPUSH windows: every connection is cut twice on the way.
      proxy.cutAfter(700_000, 'up', 2);
      const undone = await rollback({ backup, target: proxy.url(servers.target.url) });
      expect(undone).toMatchObject({ keys: 1, restored: 1, outcome: 'done' });
      expect(proxy.cuts).toBe(2);
    } finally {
      await proxy.close();
    }
    expect(await t.llen('biglist')).toBe(ELEMENTS);
    expect(await digest(servers.target)).toBe(before);
    expect(await t.keys('kvmerge-tmp:*')).toEqual([]);
  }, 120_000);

  it('--resume puts a big key back from its windows when the crash came before its step was marked applied: appended once', async () => {
    const t = servers.t;
    for (let i = 0; i < ELEMENTS; i += 5000) {
      await t.rpush('biglist', ...Array.from({ length: 5000 }, (_, j) => `item-${i + j}`));
    }
    await t.pexpire('biglist', 800_000);
    await servers.s[0]!.rpush('biglist', 'appended-1', 'appended-2');
    // ttl: target keeps the list's lifetime, so that a put-back that lost it would show.
    const config = { strategies: { list: 'merge' }, merge: { list: 'append', ttl: 'target' } };
    const backup = fresh('run.journal');
    expect((await servers.merge(config, { backup })).outcome).toBe('done');
    const after = await t.call('DEBUG', 'DIGEST-VALUE', 'biglist');
    expect(await t.llen('biglist')).toBe(ELEMENTS + 2);
    expect(await t.pttl('biglist')).toBeGreaterThan(700_000);

    // The journal as a crash right after the append was sent leaves it: the step journaled (its prior in
    // windows), its `applied` mark and the source's end lost.
    const crashed = fresh('run.journal');
    await forgetApplied(backup, crashed, [0]);
    const resumed = await servers.merge(config, { backup: crashed, resume: true });
    expect(resumed.outcome, resumed.error).toBe('done');
    // Put back (200,000 elements, from the windows) and appended again: not appended twice.
    expect(await t.llen('biglist')).toBe(ELEMENTS + 2);
    expect(await t.call('DEBUG', 'DIGEST-VALUE', 'biglist')).toEqual(after);
    expect(await t.lrange('biglist', -3, -1)).toEqual([`item-${ELEMENTS - 1}`, 'appended-1', 'appended-2']);
    expect(await t.pttl('biglist')).toBeGreaterThan(700_000);
    expect(await t.keys('kvmerge-tmp:*')).toEqual([]);
  }, 120_000);
});

describe('a big key put back by a resume that is itself interrupted', () => {
  const servers = useServers(2);

  it("the put-back's temporary key is journaled before it is built: a rollback after deletes it", async () => {
    const BIG = 3_000;
    const items = (tag: string) => Array.from({ length: BIG }, (_, i) => `${tag}${i}`);
    await servers.s[0]!.rpush('BL', ...items('a'));
    await servers.s[1]!.rpush('BL', ...items('b'));
    const before = await digest(servers.target);
    const config = {
      strategies: { list: 'merge' },
      merge: { list: 'append' },
      write: { bigKeyElements: 1_000 },
    };
    const backup = fresh('run.journal');
    expect((await servers.merge(config, { backup })).outcome).toBe('done');
    const after = await digest(servers.target);
    // The crash came after the second source's append to BL (a prior in windows: the first source's
    // 3,000 elements) was sent, before it was marked applied; BL's first prior is "absent".
    const crashed = fresh('run.journal');
    await forgetApplied(backup, crashed, [1]);
    const resumed = await servers.merge(config, { backup: crashed, resume: true });
    expect(resumed.outcome, resumed.error).toBe('done');
    expect(await digest(servers.target)).toBe(after);
    const tmp = restoreTempKey(Buffer.from('BL'));
    const temps: Buffer[] = [];
    for await (const r of readRecords(crashed)) if (r.kind === 'temp') temps.push(r.key);
    expect(temps).toContainEqual(tmp);
    // What a resume killed half-way through that put-back leaves: part of BL under the temporary key.
    await servers.t.rpush(tmp, ...items('a').slice(0, 500));
    expect((await rollback({ backup: crashed, target: servers.target.url })).tempKeys).toBeGreaterThan(0);
    expect(await servers.t.keys('kvmerge-tmp:*')).toEqual([]);
    expect(await digest(servers.target)).toBe(before);
  }, 120_000);
});

describeServer('redis-7.4.1', 'a big hash with field TTLs in the backup journal (Redis 7.4+)', () => {
  const servers = useServers(1, { target: { server: 'redis-7.4.1' }, source: { server: 'redis-7.4.1' } });

  it("rollback and resume give a big hash's fields their expiries back, as they were", async () => {
    const t = servers.t;
    const fields = Array.from({ length: 3_000 }, (_, i) => [`f${i}`, 't']).flat();
    await t.hset('fh', ...fields);
    const at = Date.now() + 600_000;
    await t.call('HPEXPIREAT', 'fh', at, 'FIELDS', 3, 'f1', 'f2', 'f3');
    await t.call('HPEXPIREAT', 'fh', at + 5_000, 'FIELDS', 1, 'f2999');
    await servers.s[0]!.hset('fh', ...Array.from({ length: 100 }, (_, i) => [`g${i}`, 's']).flat());
    const expiries = () => t.call('HPEXPIRETIME', 'fh', 'FIELDS', 5, 'f1', 'f2', 'f3', 'f4', 'f2999');
    const before = { value: await t.hgetall('fh'), expiries: await expiries() };
    expect(before.expiries).toEqual([at, at, at, -1, at + 5_000]);
    const config = { strategies: { hash: 'merge' }, write: { bigKeyElements: 500 } };
    const backup = fresh('run.journal');
    expect((await servers.merge(config, { backup })).outcome).toBe('done');
    const after = { value: await t.hgetall('fh'), expiries: await expiries() };
    let withExpiries = 0;
    for await (const r of readRecords(backup)) if (r.kind === 'window' && r.fieldExpiries) withExpiries++;
    expect(withExpiries).toBeGreaterThan(0);

    await rollback({ backup, target: servers.target.url });
    expect({ value: await t.hgetall('fh'), expiries: await expiries() }).toEqual(before);

    // The merge again, then a crash that lost its `applied` mark: put back from the windows with the
    // field expiries, merged again, as the uninterrupted run left it.
    const again = fresh('run.journal');
    expect((await servers.merge(config, { backup: again })).outcome).toBe('done');
    const crashed = fresh('run.journal');
    await forgetApplied(again, crashed, [0]);
    expect((await servers.merge(config, { backup: crashed, resume: true })).outcome).toBe('done');
    expect({ value: await t.hgetall('fh'), expiries: await expiries() }).toEqual(after);
  }, 60_000);
});

describeServer(
  'pika-4.0.1',
  'a big key in the backup journal on a Pika 4 target (no DUMP, no RENAME)',
  () => {
    const servers = useServers(1, { target: { server: 'pika-4.0.1' } });
    const COUNT = 20_000;

    it(`a hash and a list of ${COUNT} elements are journaled in windows and rolled back exactly (contents and TTL)`, async () => {
      const t = servers.t;
      for (let i = 0; i < COUNT; i += 2000) {
        const p = t.pipeline();
        // HMSET: Pika's HSET takes one pair.
        p.hmset(
          'bighash',
          ...Array.from({ length: 2000 }, (_, j) => [`field:${i + j}`, `v${(i + j) % 97}`]).flat(),
        );
        p.rpush('biglist', ...Array.from({ length: 2000 }, (_, j) => `item-${i + j}`));
        await p.exec();
      }
      await t.pexpire('biglist', 800_000);
      await servers.s[0]!.hset('bighash', 'field:1', 'source');
      await servers.s[0]!.rpush('biglist', 'appended');
      const before = await snapshot(t);
      const backup = fresh('run.journal');
      const report = await servers.merge(
        {
          strategies: { hash: 'override', list: 'merge' },
          merge: { list: 'append', ttl: 'target' },
          write: { bigKeyElements: 1000 },
        },
        { backup },
      );
      expect(report.outcome, report.error).toBe('done');
      expect(await t.hlen('bighash')).toBe(1);
      expect(await t.llen('biglist')).toBe(COUNT + 1);
      const kinds: Record<string, string> = {};
      let windows = 0;
      for await (const record of readRecords(backup)) {
        if (record.kind === 'before') kinds[record.key.toString()] = record.prior.kind;
        if (record.kind === 'window') windows++;
      }
      expect(kinds).toEqual({ bighash: 'windows', biglist: 'windows' });
      expect(windows).toBeGreaterThan(2);

      const undone = await rollback({ backup, target: servers.target.url });
      expect(undone).toMatchObject({ keys: 2, restored: 2, outcome: 'done' });
      expect(await snapshot(t)).toEqual(before);
      const pttl = await t.pttl('biglist');
      expect(pttl).toBeGreaterThan(700_000);
      expect(pttl).toBeLessThanOrEqual(800_000);
    }, 120_000);
  },
);
