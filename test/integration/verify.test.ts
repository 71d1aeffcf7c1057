/**
 * `kvmerge verify` (SPEC §6.5) against real servers: after a correct run it finds nothing, under
 * every strategy; it names a tampered and a deleted key with what was expected and what was found
 * (exit 1); with the journal's priors it catches a change that no check without them can; --sample
 * checks that many keys; and it sends no write command to any server (MONITOR).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type MergePlan, verify } from '../../src/index.js';
import { kvmerge } from '../harness/cli-run.js';
import { hash, list, seed, seedAll, str, zset } from '../harness/data.js';
import { type MergeConfig, useServers } from '../harness/merge-servers.js';
import { monitor } from '../harness/monitor.js';
import { describeServer, type TestServer } from '../harness/servers.js';
import { ALL_KEYS, BINARY, iterate, LAYOUT, priorsBefore } from '../harness/verify-layout.js';

const STRATEGIES: [string, MergeConfig][] = [
  ['override everything', { strategies: { default: 'override' }, typeMismatch: 'override' }],
  ['skip everything', { strategies: { default: 'skip' }, typeMismatch: 'skip' }],
  [
    'merge collections (source wins, append, ttl max)',
    { strategies: { default: 'merge', string: 'override', stream: 'skip' }, typeMismatch: 'override' },
  ],
  [
    'merge collections (target wins, zset sum, prepend, ttl min)',
    {
      strategies: { default: 'merge', string: 'skip', stream: 'override' },
      typeMismatch: 'skip',
      merge: { hashField: 'target', zsetScore: 'sum', list: 'prepend', ttl: 'min' },
    },
  ],
  [
    'merge collections (zset max, list union, ttl source)',
    {
      strategies: { default: 'merge', string: 'override', stream: 'skip' },
      merge: { zsetScore: 'max', list: 'union', ttl: 'source' },
    },
  ],
  [
    'zset min, ttl target',
    {
      strategies: { default: 'merge', string: 'skip', stream: 'skip' },
      merge: { zsetScore: 'min', ttl: 'target' },
    },
  ],
];

describe('verify', () => {
  const servers = useServers(2);

  for (const [name, config] of STRATEGIES) {
    it(`finds no difference after a correct run: ${name}, without and with the journal`, async () => {
      await seedAll(servers, LAYOUT);
      const priors = await priorsBefore(servers.t, ALL_KEYS);
      const plan = servers.plan(config);
      const report = await servers.merge(config);
      expect(report.outcome).toBe('done');
      const loose = await verify(plan);
      expect(loose.listed).toEqual([]);
      expect(loose.checked).toBe(ALL_KEYS.length);
      const exact = await verify(plan, { priors: iterate(priors) });
      expect(exact.listed).toEqual([]);
      expect(exact.exact).toBe(ALL_KEYS.length);
      expect(exact.priorsUnused).toEqual([]);
    });
  }

  for (const [name, config] of STRATEGIES) {
    it(`compares every key in windows when all count as big: ${name}, without and with the journal`, async () => {
      await seedAll(servers, LAYOUT);
      const priors = await priorsBefore(servers.t, ALL_KEYS);
      await servers.merge(config);
      // bigKeyBytes 1: MEMORY USAGE puts every key over it, so each is read in windows (verify/windowed.ts).
      const plan = servers.plan({ ...config, write: { bigKeyBytes: 1 } });
      const loose = await verify(plan);
      expect(loose.listed).toEqual([]);
      expect(loose.checked).toBe(ALL_KEYS.length);
      const exact = await verify(plan, { priors: iterate(priors) });
      expect(exact.listed).toEqual([]);
      expect(exact.exact).toBe(ALL_KEYS.length);
    });
  }

  it('in windows, names the field, member or element that differs', async () => {
    await seedAll(servers, LAYOUT);
    const config: MergeConfig = {
      strategies: { default: 'merge', string: 'override', stream: 'override' },
      typeMismatch: 'override',
    };
    const priors = await priorsBefore(servers.t, ALL_KEYS);
    await servers.merge(config);
    const plan = servers.plan({ ...config, write: { bigKeyBytes: 1 } });
    expect((await verify(plan)).listed).toEqual([]);
    await servers.t.hset('h', 'c', 'tampered');
    await servers.t.srem('st', 'z');
    await servers.t.zadd('z', 7, 'o');
    await servers.t.lset('l', 3, 'X');
    await servers.t.setrange('str', 1, 'W');
    // Without the journal a created key may hold more (its unknown prior's fields): only the journal sees this.
    await servers.t.hset('only1', 'extra', '1');
    const byKey = async (options = {}) =>
      Object.fromEntries((await verify(plan, options)).listed.map((d) => [d.key, [d.expected, d.found]]));
    const loose = await byKey();
    expect(loose).toEqual({
      h: ['a hash that contains "c": "s2", no TTL', 'hash of 3 fields, "c": "tampered", no TTL'],
      st: ['a set that contains member "z", no TTL', 'set of 2 members, no member "z", no TTL'],
      z: ['a zset that contains "o": 2, no TTL', 'zset of 3 members, "o": 7, no TTL'],
      l: [
        `a list that ends with the sources' elements: "c" at [3], no TTL`,
        'list of 6 elements, "X" at [3], no TTL',
      ],
      str: ['string of 3 bytes with "wo" at byte 1, no TTL', 'string of 3 bytes, "Wo" at byte 1, no TTL'],
    });
    // With the journal, a merged key is its prior merged with the sources: the first wrong field is named.
    const exact = await byKey({ priors: iterate(priors) });
    expect(Object.keys(exact).sort()).toEqual(['h', 'l', 'only1', 'st', 'str', 'z']);
    expect(exact.l).toEqual(['a list with "c" at [3], no TTL', 'list of 6 elements, "X" at [3], no TTL']);
  });

  it('names a tampered key and a deleted key with expected and found; exit 1, report file', async () => {
    await seedAll(servers, LAYOUT);
    const config: MergeConfig = { strategies: { default: 'override' }, typeMismatch: 'override' };
    await servers.merge(config);
    const args = [
      'verify',
      ...servers.sources.flatMap((s) => ['-s', s.url]),
      '-t',
      servers.target.url,
      '--on-conflict',
      'override',
      '--type-mismatch',
      'override',
    ];
    const clean = await kvmerge(args);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toBe('');
    expect(clean.stderr).toMatch(/verified 11 keys .*: 0 differences/);

    await servers.t.set('str', 'tampered');
    await servers.t.del('only2');
    await servers.t.hset('only1', 'extra', '1');
    const dir = mkdtempSync(join(tmpdir(), 'kvmerge-verify-'));
    const file = join(dir, 'report.json');
    const run = await kvmerge([...args, '--report', file]);
    expect(run.code, run.stderr).toBe(1);
    const lines = run.stdout.trimEnd().split('\n').sort();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^"only1": expected hash \{"k": "v"\}, TTL \d+ ms; found hash \{"extra": "1", "k": "v"\}, TTL \d+ ms$/,
    );
    expect(lines.slice(1)).toEqual([
      '"only2": expected list ["p", "q"], no TTL; found no key',
      '"str": expected "two", no TTL; found "tampered", no TTL',
    ]);
    expect(run.stderr).toMatch(/3 keys differ/);
    const report = JSON.parse(readFileSync(file, 'utf8'));
    expect(report.differences).toBe(3);
    expect(report.listed.map((d: { key: string }) => d.key).sort()).toEqual(['only1', 'only2', 'str']);
  });

  it('a binary key and value are shown as base64', async () => {
    await servers.s[0]!.set(BINARY, BINARY);
    const config: MergeConfig = { strategies: { default: 'override' } };
    await servers.merge(config);
    await servers.t.set(BINARY, 'x');
    const report = await verify(servers.plan(config));
    expect(report.listed).toEqual([
      {
        keyBase64: BINARY.toString('base64'),
        expected: `b64:${BINARY.toString('base64')}, no TTL`,
        found: '"x", no TTL',
      },
    ]);
  });

  it("with priors, a change no check without them can see is caught: a kept value, a merged key's own field", async () => {
    // Under skip the target keeps its own value, which without the journal could have been anything.
    await servers.t.set('kept', 'old');
    await servers.s[0]!.set('kept', 'new');
    await servers.t.hset('merged', 'f', 'old');
    await servers.s[0]!.hset('merged', 'g', 'new');
    const config: MergeConfig = { strategies: { default: 'skip', hash: 'merge' } };
    const priors = await priorsBefore(servers.t, ['kept', 'merged']);
    await servers.merge(config);
    await servers.t.set('kept', 'tampered');
    await servers.t.hset('merged', 'f', 'changed');

    const plan = servers.plan(config);
    expect((await verify(plan)).differences).toBe(0);
    const exact = await verify(plan, { priors: iterate(priors) });
    expect(exact.listed.sort((a, b) => a.key!.localeCompare(b.key!))).toEqual([
      { key: 'kept', expected: '"old", no TTL', found: '"tampered", no TTL' },
      {
        key: 'merged',
        expected: 'hash {"f": "old", "g": "new"}, no TTL',
        found: 'hash {"f": "changed", "g": "new"}, no TTL',
      },
    ]);
  });

  it('without the journal, merged keys must contain every source member under the strategy', async () => {
    await seed(servers.s[0]!, { l: list('a', 'b'), z: zset(['m', 5]), h: hash({ f: '1' }) });
    await seed(servers.s[1]!, { l: list('c'), z: zset(['m', 2]), h: hash({ f: '2' }) });
    await seed(servers.t, { l: list('x'), z: zset(['m', 1]), h: hash({ f: '0' }) });
    const config: MergeConfig = {
      strategies: { default: 'merge', string: 'skip', stream: 'skip' },
      merge: { zsetScore: 'max' },
    };
    await servers.merge(config);
    const plan = servers.plan(config);
    expect((await verify(plan)).differences).toBe(0);
    // An append out of order, a score below a source's, a field that lost the last source's value.
    await seed(servers.t, { l: list('x', 'c', 'a', 'b'), z: zset(['m', 4]), h: hash({ f: '1' }) });
    const report = await verify(plan);
    expect(report.listed.map((d) => d.key).sort()).toEqual(['h', 'l', 'z']);
  });

  it('a TTL beyond the tolerance is a difference', async () => {
    await servers.s[0]!.set('k', 'v', 'PX', 100_000);
    const config: MergeConfig = { strategies: { default: 'override' } };
    await servers.merge(config);
    expect((await verify(servers.plan(config))).differences).toBe(0);
    await servers.t.pexpire('k', 50_000);
    expect((await verify(servers.plan(config))).listed).toEqual([
      {
        key: 'k',
        expected: expect.stringMatching(/^"v", TTL 9\d{4} ms$/),
        found: expect.stringMatching(/TTL 4\d{4} ms/),
      },
    ]);
    await servers.t.persist('k');
    expect((await verify(servers.plan(config))).differences).toBe(1);
  });

  it('a merged key that expired after the run is no difference with the journal, which knows its lifetime', async () => {
    await seed(servers.t, { h: hash({ a: 't' }) });
    await servers.t.pexpire('h', 800);
    await seed(servers.s[0]!, { h: hash({ b: 's' }) });
    const config: MergeConfig = { strategies: { hash: 'merge' }, merge: { ttl: 'min' } };
    const priors = await priorsBefore(servers.t, ['h']);
    await servers.merge(config);
    await expect.poll(() => servers.t.exists('h'), { timeout: 5_000 }).toBe(0);
    expect(await verify(servers.plan(config), { priors: iterate(priors) })).toMatchObject({ differences: 0 });
    // Without it, the lifetime was the unknown prior's: gone is not told from deleted, and is named.
    expect((await verify(servers.plan(config))).listed).toEqual([
      { key: 'h', expected: expect.stringContaining('hash'), found: 'no key' },
    ]);
  });

  it('respects prefixes and match patterns: only the keys the plan merges are checked', async () => {
    await seed(servers.s[0]!, { 'user:1': str('a'), 'other:1': str('b') });
    await seed(servers.s[1]!, { 'user:1': str('c') });
    const config: MergeConfig = {
      strategies: { default: 'override' },
      sources: [{ match: 'user:*', prefix: 'a:' }, { prefix: 'b:' }],
    };
    await servers.merge(config);
    const report = await verify(servers.plan(config));
    expect(report).toMatchObject({ checked: 2, differences: 0 });
    await servers.t.del('b:user:1');
    expect((await verify(servers.plan(config))).listed).toEqual([
      { key: 'b:user:1', expected: '"c", no TTL', found: 'no key' },
    ]);
  });

  it('--sample N checks N random keys of the sources', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    await servers.s[0]!.mset(...keys.flatMap((k) => [k, 'v']));
    const config: MergeConfig = { strategies: { default: 'override' } };
    await servers.merge(config);
    const plan: MergePlan = servers.plan(config);
    expect(await verify(plan, { sample: 25 })).toMatchObject({ checked: 25, differences: 0, sample: 25 });
    await servers.t.flushall();
    const report = await verify(plan, { sample: 25 });
    expect(report).toMatchObject({ checked: 25, differences: 25 });
    expect(new Set(report.listed.map((d) => d.key)).size).toBe(25);
    // A sample larger than the keyspace checks every key once.
    expect(await verify(plan, { sample: 1000 })).toMatchObject({ checked: 300, differences: 300 });
  });

  it('sends no write command to the target or a source (MONITOR), with and without the journal', async () => {
    await seedAll(servers, LAYOUT);
    const config: MergeConfig = { strategies: { default: 'merge', string: 'override', stream: 'skip' } };
    const priors = await priorsBefore(servers.t, ALL_KEYS);
    await servers.merge(config);
    const monitors = await Promise.all([servers.target, ...servers.sources].map(monitor));
    // The detector works: a write from this test is seen as one.
    await servers.t.set('probe-write', '1');
    await verify(servers.plan(config));
    await verify(servers.plan(config), { priors: iterate(priors) });
    await verify(servers.plan(config), { sample: 3 });
    // MONITOR output lags: settle() waits for a marker sent after everything else.
    const seen = (await Promise.all(monitors.map((m) => m.settle()))).flatMap((commands, i) =>
      commands.map((args) => [String(i), ...args]),
    );
    for (const m of monitors) m.close();

    const names = [...new Set(seen.map((a) => a[1]!.toLowerCase()))];
    const writes: string[] = [];
    for (const name of names) {
      const [info] = (await servers.t.command('INFO', name)) as [unknown[]];
      const flags = (info?.[2] ?? []) as string[];
      if (flags.includes('write')) writes.push(name);
    }
    expect(writes).toEqual(['set']); // the test's own probe write, nothing of verify
    expect(seen.filter((a) => a[1]!.toLowerCase() === 'set')).toHaveLength(1);
    expect(names).toEqual(expect.arrayContaining(['scan', 'type', 'pttl', 'hgetall', 'lrange']));
  });

  it('usage and connection errors are one line and exit 2', async () => {
    const base = ['verify', '-s', servers.sources[0]!.url, '-t', servers.target.url];
    const zero = await kvmerge([...base, '--sample', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr.trim()).toMatch(
      /^kvmerge: --sample: 0 is not valid; accepted: a whole number of 1 or more$/,
    );
    const down = await kvmerge([
      'verify',
      '-s',
      servers.sources[0]!.url,
      '-t',
      'redis://:secret@127.0.0.1:1',
    ]);
    expect(down.code).toBe(2);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).not.toContain('secret');
  });
});

/** Other servers as target and source: Pika 4 (native reads, ZSCAN, TYPE `streams`), older Redis into Valkey. */
const PAIRS: { source: TestServer; target: TestServer }[] = [
  { source: 'redis', target: 'pika-4.0.1' },
  { source: 'pika-4.0.1', target: 'redis' },
  { source: 'redis-6.2.16', target: 'valkey-8.0.1' },
];
for (const { source, target } of PAIRS) {
  describeServer([source, target], `verify, ${source} into ${target}`, () => {
    const servers = useServers(2, { source: { server: source }, target: { server: target } });
    it('finds nothing after a merge of every type, and names a changed key', async () => {
      await seedAll(servers, LAYOUT);
      // Pika 4 cuts keys at a NUL byte: the merge refuses such a key (pika.test.ts), so none is seeded.
      if (target.startsWith('pika')) await servers.s[0]!.del(BINARY);
      // A stream with a TTL: Pika keeps streams without one, which verify knows (Caps.streamTtl).
      if (!source.startsWith('pika')) await servers.s[0]!.pexpire('xs', 500_000);
      const config: MergeConfig = {
        strategies: { default: 'merge', string: 'override', stream: 'override' },
        typeMismatch: 'override',
      };
      const report = await servers.merge(config);
      expect(report.outcome).toBe('done');
      const plan = servers.plan(config);
      expect((await verify(plan)).listed).toEqual([]);
      await servers.t.call('ZADD', 'z', '0', 'm');
      expect((await verify(plan)).listed).toEqual([
        expect.objectContaining({ key: 'z', found: expect.stringContaining('"m": 0') }),
      ]);
    });
  });
}

/** End to end with a real journal: `merge --backup FILE`, then `verify --backup FILE`. */
describe('verify --backup FILE', () => {
  const servers = useServers(2);
  it("checks every journaled key against its prior: exit 0, then exit 1 naming a skipped key's change", async () => {
    await seedAll(servers, LAYOUT);
    const journal = join(mkdtempSync(join(tmpdir(), 'kvmerge-verify-')), 'run.journal');
    const common = [
      ...servers.sources.flatMap((s) => ['-s', s.url]),
      '-t',
      servers.target.url,
      '--on-conflict',
      'skip',
      '--hash',
      'merge',
    ];
    const merged = await kvmerge(['merge', ...common, '--backup', journal, '--quiet']);
    expect(merged.code, merged.stderr).toBe(0);
    const clean = await kvmerge(['verify', ...common, '--backup', journal]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).toMatch(/exactly against the journal's prior state/);
    // `h` was merged, so journaled: its field `a` comes from the target's prior value alone, which only
    // the journal knows; without it, any value of `a` could have been the prior's.
    await servers.t.hset('h', 'a', 'changed');
    const caught = await kvmerge(['verify', ...common, '--backup', journal]);
    expect(caught.code, caught.stderr).toBe(1);
    expect(caught.stdout).toMatch(/^"h": expected hash \{"a": "t", /);
    const loose = await kvmerge(['verify', ...common]);
    expect(loose.code, loose.stderr).toBe(0);
  });
});

describe('verify without read permissions', () => {
  const servers = useServers(1, { target: { aclUsers: ['blind on >pw ~* +@all -pttl'] } });
  it('is one line naming the server, exit 2', async () => {
    await servers.s[0]!.set('k', 'v');
    await servers.merge({ strategies: { default: 'override' } });
    const url = servers.target.url.replace('redis://', 'redis://blind:pw@');
    const run = await kvmerge(['verify', '-s', servers.sources[0]!.url, '-t', url]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr.trim()).toMatch(
      /^kvmerge: target redis:\/\/blind:\*\*\*@.* refused a read: NOPERM .*\+@read/,
    );
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
