/**
 * Backup journal and rollback (SPEC §6.2): a merge run with --backup, rolled back, leaves the target
 * byte for byte as it was (DEBUG DIGEST), on every type and both write paths.
 */
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { openJournal, resolvePlan, rollback, runMerge } from '../../src/index.js';
import { FORMAT_VERSION } from '../../src/journal/format.js';
import {
  expiring,
  hash,
  type Layout,
  list,
  seed,
  seedAll,
  set,
  snapshot,
  str,
  stream,
  zset,
} from '../harness/data.js';
import { type MergeConfig, useServers } from '../harness/merge-servers.js';
import { monitor } from '../harness/monitor.js';
import { digest, startRedis } from '../harness/redis.js';
import { fresh } from '../harness/scratch.js';
import { describeServer } from '../harness/servers.js';

const MERGING: MergeConfig = {
  strategies: {
    string: 'override',
    hash: 'merge',
    set: 'merge',
    zset: 'merge',
    list: 'merge',
    stream: 'override',
  },
  merge: { list: 'append', zsetScore: 'sum' },
};

describe('backup journal and rollback', () => {
  const servers = useServers(2);

  /** A target holding some of the keys the sources hold (with TTLs), and keys no source has. */
  const LAYOUT: Layout = {
    target: {
      s: str('target'),
      h: expiring(500_000, hash({ a: 't', only: 't' })),
      st: set('x', 'y'),
      z: zset(['m', 1], ['n', 2]),
      l: expiring(900_000, list('t1', 't2')),
      x: stream(['1-1', ['f', 'target']]),
      untouched: str('stays'),
    },
    sources: [
      {
        s: expiring(700_000, str('s1')),
        h: hash({ a: 's1', b: 's1' }),
        st: set('y', 'z'),
        z: zset(['m', 5], ['o', 1]),
        l: list('a', 'b'),
        x: stream(['2-1', ['f', 's1']]),
        new1: hash({ k: 'v' }),
        new2: list('p', 'q'),
      },
      {
        z: zset(['m', 1]),
        l: list('c'),
        new3: zset(['a', 1]),
        new1: hash({ k2: 'v2' }),
      },
    ],
  };

  for (const mode of ['dump', 'native'] as const) {
    it(`a ${mode}-mode merge with --backup, rolled back, leaves the target as it was (every type, DEBUG DIGEST)`, async () => {
      await seedAll(servers, LAYOUT);
      const before = await digest(servers.target);
      const expiries = await Promise.all(['h', 'l'].map((k) => servers.t.call('PEXPIRETIME', k)));
      const backup = fresh('run.journal');
      const report = await servers.merge({ ...MERGING, write: { mode } }, { backup });
      expect(report.outcome).toBe('done');
      expect(await digest(servers.target)).not.toBe(before);

      const undone = await rollback({ backup, target: servers.target.url });
      expect(undone).toMatchObject({ keys: 9, deleted: 3, restored: 6, outcome: 'done' });
      expect(await digest(servers.target)).toBe(before);
      // TTLs come back as the very absolute times they were (PEXPIRETIME, Redis 7.0+).
      expect(await Promise.all(['h', 'l'].map((k) => servers.t.call('PEXPIRETIME', k)))).toEqual(expiries);

      // Run twice: nothing changes the second time.
      await rollback({ backup, target: servers.target.url });
      expect(await digest(servers.target)).toBe(before);
    });
  }

  it('a big key built under a temporary key is rolled back too, and no temporary key is left', async () => {
    await seed(servers.t, {
      big: hash(Array.from({ length: 300 }, (_, i): [string, string] => [`f${i}`, 't'])),
    });
    await seed(servers.s[0]!, {
      big: hash(Array.from({ length: 500 }, (_, i): [string, string] => [`f${i}`, 's'])),
    });
    const before = await digest(servers.target);
    const backup = fresh('run.journal');
    const report = await servers.merge(
      // In windows (a temporary key): a streamed override has none (bigkey-stream.test.ts rolls one back).
      {
        strategies: { hash: 'override' },
        write: { bigKeyElements: 50, bigKeyBytes: 4096, payloadMaxBytes: 0 },
      },
      { backup },
    );
    expect(report.totals.overridden).toBe(1);
    expect(await servers.t.hget('big', 'f400')).toBe('s');
    const temps: Buffer[] = [];
    for await (const record of (await import('../../src/journal/reader.js')).readRecords(backup)) {
      if (record.kind === 'temp') temps.push(record.key);
    }
    expect(temps.length).toBe(1);
    // A crash would have left it: put one there under the journaled name.
    await servers.t.set(temps[0]!, 'left by a killed run');
    const undone = await rollback({ backup, target: servers.target.url });
    expect(undone.tempKeys).toBe(1);
    expect(await digest(servers.target)).toBe(before);
  });

  it('the journal names the run and redacted target; firstPriors gives each key once, as before the run', async () => {
    await seedAll(servers, LAYOUT);
    // Keys the run does not touch: the journal must not grow with them.
    const bulk = servers.t.pipeline();
    for (let i = 0; i < 5000; i++) bulk.set(`bystander:${i}`, 'x'.repeat(100));
    await bulk.exec();
    const backup = fresh('run.journal');
    await servers.merge(MERGING, { backup });
    const journal = await openJournal(backup);
    expect(journal.header).toMatchObject({
      tool: 'kvmerge',
      format: FORMAT_VERSION,
      target: servers.target.url,
    });
    expect(journal.header.runId).toMatch(/^[0-9a-f-]{36}$/);
    const priors = new Map<string, string>();
    for await (const { key, prior } of journal.firstPriors()) {
      expect(priors.has(key.toString())).toBe(false);
      priors.set(key.toString(), prior.kind);
    }
    // new1 is written by both sources: its first prior is "absent", not the value source 1 made.
    expect(Object.fromEntries(priors)).toEqual({
      s: 'dump',
      h: 'dump',
      st: 'dump',
      z: 'dump',
      l: 'dump',
      x: 'dump',
      new1: 'absent',
      new2: 'absent',
      new3: 'absent',
    });
    // Grows with the changed keys (9), not with the keyspace (5,007 keys of 100 bytes and more).
    expect((await stat(backup)).size).toBeLessThan(4000);
  });

  it('a journal whose last record is torn is read up to it, and the rollback still restores the rest', async () => {
    await seedAll(servers, LAYOUT);
    const before = await digest(servers.target);
    const backup = fresh('run.journal');
    await servers.merge(MERGING, { backup });
    // A crash in the middle of an append: a frame head that promises more than follows.
    const torn = Buffer.alloc(12);
    torn.writeUInt32LE(1000, 0);
    await appendFile(backup, torn);
    await rollback({ backup, target: servers.target.url });
    expect(await digest(servers.target)).toBe(before);
    // A frame with a wrong checksum is torn too.
    const data = await readFile(backup);
    data.writeUInt8(data.readUInt8(data.length - 20) ^ 0xff, data.length - 20);
    await writeFile(backup, data);
    await expect(rollback({ backup, target: servers.target.url })).resolves.toMatchObject({
      outcome: 'done',
    });
  });

  it('a journal damaged in the middle is refused (exit 2) before anything is written, torn ends are not', async () => {
    await seedAll(servers, LAYOUT);
    const backup = fresh('run.journal');
    await servers.merge(MERGING, { backup });
    const whole = await readFile(backup);
    // The second record (the first after the header) gets one byte changed: the records after it are whole.
    const second = 16 + 8 + whole.readUInt32LE(16);
    const damaged = Buffer.from(whole);
    damaged.writeUInt8(damaged.readUInt8(second + 9) ^ 0x01, second + 9);
    await writeFile(backup, damaged);
    const after = await digest(servers.target);
    const refused = {
      exitCode: 2,
      message: expect.stringContaining(`is damaged: the record at byte ${second} fails its checksum`),
    };
    await expect(rollback({ backup, target: servers.target.url })).rejects.toMatchObject(refused);
    // A length that points past the end hides where the next record starts: still found.
    damaged.set(whole);
    damaged.writeUInt32LE(whole.length, second);
    await writeFile(backup, damaged);
    await expect(rollback({ backup, target: servers.target.url })).rejects.toMatchObject(refused);
    expect(await digest(servers.target)).toBe(after);
    // What a power loss leaves (zeros, or garbage, after the last record) is an ordinary torn end.
    for (const tail of [
      Buffer.alloc(4096),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)),
    ]) {
      await writeFile(backup, Buffer.concat([whole, tail]));
      await expect(rollback({ backup, target: servers.target.url, dryRun: true })).resolves.toMatchObject({
        outcome: 'done',
      });
    }
  });

  it('a journal of another target is refused (exit 2) before anything is written', async () => {
    await seedAll(servers, LAYOUT);
    const backup = fresh('run.journal');
    await servers.merge(MERGING, { backup });
    const other = servers.sources[0]!;
    const sourceBefore = await digest(other);
    await expect(rollback({ backup, target: other.url })).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining(`is the journal of a run into ${servers.target.url}`),
    });
    expect(await digest(other)).toBe(sourceBefore);
    // The same database spelled otherwise (localhost for 127.0.0.1) is the journal's target.
    const before = await digest(servers.target);
    await rollback({ backup, target: servers.target.url.replace('127.0.0.1', 'localhost') });
    expect(await digest(servers.target)).not.toBe(before);
  });

  it('rollback --dry-run lists what it would restore and sends no write (MONITOR)', async () => {
    await seedAll(servers, LAYOUT);
    const backup = fresh('run.journal');
    await servers.merge(MERGING, { backup });
    const after = await snapshot(servers.t);
    const watcher = await monitor(servers.target);
    const listed: string[] = [];
    const report = await rollback(
      { backup, target: servers.target.url, dryRun: true },
      { planned: ({ key }) => listed.push(key.toString()) },
    );
    const seen = (await watcher.settle()).map((args) => String(args[0]).toUpperCase());
    watcher.close();
    expect(report).toMatchObject({ dryRun: true, keys: 9 });
    expect(listed.sort()).toEqual(['h', 'l', 'new1', 'new2', 'new3', 's', 'st', 'x', 'z']);
    const writes = seen.filter((c) =>
      /^(DEL|RESTORE|SET|HSET|RPUSH|ZADD|SADD|XADD|PEXPIRE|PEXPIREAT|MULTI|UNLINK)$/.test(c),
    );
    expect(seen.length).toBeGreaterThan(0);
    expect(writes).toEqual([]);
    expect(await snapshot(servers.t)).toEqual(after);
  });

  it('a journal file that exists is not overwritten by a new run: exit 2, use --resume', async () => {
    const backup = fresh('run.journal');
    await writeFile(backup, 'precious');
    await expect(servers.merge(MERGING, { backup })).rejects.toMatchObject({ exitCode: 2 });
    expect(await readFile(backup, 'utf8')).toBe('precious');
  });
});

describe('backup journal: permissions', () => {
  it('a target user who may not DUMP is told before any write (exit 2), with the grant to add', async () => {
    const target = await startRedis({ aclUsers: ['nodump on >pw ~* &* +@all -dump'] });
    const source = await startRedis();
    try {
      await source.client().set('k', 'source');
      await target.client().set('k', 'target');
      const url = target.url.replace('redis://', 'redis://nodump:pw@');
      const plan = resolvePlan(
        { sources: [{ url: source.url }], target: { url }, strategies: { string: 'override' } },
        { backup: fresh('run.journal') },
        {},
      );
      await expect(runMerge(plan)).rejects.toMatchObject({
        exitCode: 2,
        message: expect.stringMatching(/--backup cannot read the target's keys .*\+dump/),
      });
      expect(await target.client().get('k')).toBe('target');
    } finally {
      await Promise.all([target.stop(), source.stop()]);
    }
  });
});

describeServer(
  'pika-4.0.1',
  'backup journal and rollback on a Pika 4 target (no DUMP: native images)',
  () => {
    const servers = useServers(1, { target: { server: 'pika-4.0.1' } });

    it('a merge with --backup into Pika, rolled back, gives back every key as it was (contents and TTLs)', async () => {
      await seed(servers.t, {
        s: str('target'),
        h: hash({ a: 't', only: 't' }),
        st: set('x', 'y'),
        z: zset(['m', 1], ['n', 2]),
        l: list('t1', 't2'),
        x: stream(['1-1', ['f', 'target']]),
        untouched: str('stays'),
      });
      await servers.t.pexpire('h', 500_000);
      await seed(servers.s[0]!, {
        s: str('s1'),
        h: hash({ a: 's1', b: 's1' }),
        st: set('y', 'z'),
        z: zset(['m', 5], ['o', 1]),
        l: list('a', 'b'),
        x: stream(['2-1', ['f', 's1']]),
        new1: hash({ k: 'v' }),
        new2: list('p', 'q'),
      });
      const before = await snapshot(servers.t);
      const backup = fresh('run.journal');
      const report = await servers.merge(MERGING, { backup });
      expect(report.outcome).toBe('done');
      expect(await snapshot(servers.t)).not.toEqual(before);
      const journal = await openJournal(backup);
      const kinds = new Set<string>();
      for await (const { prior } of journal.firstPriors()) kinds.add(prior.kind);
      expect([...kinds].sort()).toEqual(['absent', 'native']);

      const undone = await rollback({ backup, target: servers.target.url });
      expect(undone).toMatchObject({ keys: 8, deleted: 2, restored: 6 });
      expect(await snapshot(servers.t)).toEqual(before);
      const pttl = await servers.t.pttl('h');
      expect(pttl).toBeGreaterThan(400_000);
      expect(pttl).toBeLessThanOrEqual(500_000);
      await rollback({ backup, target: servers.target.url });
      expect(await snapshot(servers.t)).toEqual(before);
    });
  },
);
