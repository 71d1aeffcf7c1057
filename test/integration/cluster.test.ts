/**
 * Redis Cluster as target and as source (SPEC §7): real 3-master clusters of redis-server
 * (test/harness/cluster.ts). Every run is compared with the model of the fold (test/property/model.ts):
 * the target's contents and the report's counters.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionError, type JsonReport, resolvePlan, runMerge } from '../../src/index.js';
import type { ProgressSink } from '../../src/report/types.js';
import { clusterLayout } from '../../src/servers/cluster/layout.js';
import type { MergeOptions } from '../../src/types/strategy.js';
import { slotOf, startCluster, type TestCluster } from '../harness/cluster.js';
import { commandCalls } from '../harness/commandstats.js';
import { load, loadCluster, readClusterStore, readStore } from '../harness/model-store.js';
import { digest, type RedisServer, startRedis } from '../harness/redis.js';
import {
  canonical,
  type Entry,
  foldModel,
  MODEL_TYPES,
  type ModelTable,
  type Prediction,
  type Store,
} from '../property/model.js';

const MERGE: MergeOptions = { hashField: 'source', zsetScore: 'sum', list: 'append', ttl: 'max' };

/**
 * A deterministic store over `count` keys: key i is held when `holds(i)`, with type i % 5 (shifted by
 * `shift` for every seventh key, so that some names differ in type between stores) and elements
 * tagged with `tag`, so that merges show whose elements arrived.
 */
function dataset(
  tag: string,
  count: number,
  holds: (i: number) => boolean,
  { shift = 0, prefix = 'k:', size = 3 } = {},
): Store {
  const store: Store = new Map();
  for (let i = 0; i < count; i++) {
    if (!holds(i)) continue;
    const type = MODEL_TYPES[(i + (i % 7 === 0 ? shift : 0)) % MODEL_TYPES.length]!;
    const items = Array.from({ length: size }, (_, n) => `${n % 2 === 0 ? 'shared' : tag}-${n}`);
    let entry: Entry;
    switch (type) {
      case 'string':
        entry = { type, value: `${tag}-${i}`, ttl: 'none' };
        break;
      case 'hash':
        entry = { type, value: items.map((f) => [f, `${tag}-${i}`]), ttl: 'none' };
        break;
      case 'set':
        entry = { type, value: items, ttl: 'none' };
        break;
      case 'zset':
        entry = { type, value: items.map((m, n) => [m, n + 1]), ttl: 'none' };
        break;
      case 'list':
        entry = { type, value: [...items, `${tag}-${i}`], ttl: 'none' };
        break;
    }
    store.set(`${prefix}${i}`, entry);
  }
  return store;
}

function table(strategy: 'override' | 'merge' | 'skip'): ModelTable {
  return {
    string: strategy === 'merge' ? 'override' : strategy,
    hash: strategy,
    set: strategy,
    zset: strategy,
    list: strategy,
    typeMismatch: 'override',
  };
}

function counters(report: JsonReport) {
  return {
    totals: report.totals,
    byType: report.byType,
    conflicts: report.conflicts.total,
    scannedPerSource: report.sources.map((s) => s.scanned),
  };
}

function predicted(p: Prediction) {
  return { totals: p.totals, byType: p.byType, conflicts: p.conflicts, scannedPerSource: p.scannedPerSource };
}

interface RunOptions {
  sources: { url: string; prefix?: string }[];
  target: string;
  table: ModelTable;
  dryRun?: boolean;
  write?: Record<string, unknown>;
  progress?: ProgressSink;
}

function run(opts: RunOptions): Promise<JsonReport> {
  const { table: t } = opts;
  const plan = resolvePlan(
    {
      version: 1,
      sources: opts.sources.map((s, i) => ({ name: `s${i + 1}`, ...s })),
      target: { url: opts.target },
      strategies: { default: 'skip', string: t.string, hash: t.hash, set: t.set, zset: t.zset, list: t.list },
      typeMismatch: t.typeMismatch,
      merge: MERGE,
      write: { concurrency: 4, batchSize: 32, ...opts.write },
      dryRun: opts.dryRun ?? false,
    },
    {},
    {},
  );
  return runMerge(plan, opts.progress ? { progress: opts.progress } : {});
}

const entries = (store: Store): [string, Entry][] => [...store];

/** Keeps `server` busy (DEBUG SLEEP after DEBUG SLEEP) until `until` settles; settles as it does. */
async function stallWhile(server: RedisServer, until: Promise<void>): Promise<void> {
  let over = false;
  const settled = until.finally(() => {
    over = true;
  });
  const sleeper = server.client();
  try {
    while (!over) await sleeper.call('DEBUG', 'SLEEP', '0.2');
  } finally {
    sleeper.disconnect();
  }
  return settled;
}

/** Whether the cluster's masters, together, hold any temporary key of a run. */
async function tempKeysLeft(cluster: TestCluster): Promise<string[]> {
  const left: string[] = [];
  for (const node of cluster.nodes) {
    const client = node.client();
    left.push(...(await client.keys('kvmerge-tmp:*')));
    client.disconnect();
  }
  return left;
}

describe('Redis Cluster as target and source', () => {
  let cluster: TestCluster;
  let a: RedisServer;
  let b: RedisServer;
  let t: RedisServer;
  let ca: Redis;
  let cb: Redis;
  let ct: Redis;

  beforeAll(async () => {
    [cluster, a, b, t] = await Promise.all([startCluster(3), startRedis(), startRedis(), startRedis()]);
    [ca, cb, ct] = [a.client(), b.client(), t.client()];
  }, 60_000);

  afterAll(async () => {
    await Promise.all([cluster?.stop(), a?.stop(), b?.stop(), t?.stop()]);
  });

  beforeEach(async () => {
    await Promise.all([cluster.flushall(), ca.flushall(), cb.flushall(), ct.flushall()]);
  });

  const target = dataset('t', 300, (i) => i % 3 === 0);
  const shardA = dataset('a', 300, (i) => i % 2 === 0, { shift: 1 });
  const shardB = dataset('b', 300, (i) => i % 5 !== 1, { shift: 2 });

  for (const strategy of ['override', 'merge', 'skip'] as const) {
    it(`standalone shards fold into a 3-master cluster (${strategy}): the model's target and counters`, async () => {
      await Promise.all([
        loadCluster(cluster, entries(target)),
        load(ca, [], entries(shardA)),
        load(cb, [], entries(shardB)),
      ]);
      const model = foldModel(target, [shardA, shardB], table(strategy), MERGE);
      const report = await run({
        sources: [{ url: a.url }, { url: b.url }],
        target: cluster.url,
        table: table(strategy),
      });
      expect(report.outcome, report.error).toBe('done');
      expect(canonical(await readClusterStore(cluster))).toEqual(canonical(model.store));
      expect(counters(report)).toEqual(predicted(model));
      // Keys of one source are spread over every master.
      for (const node of cluster.nodes) expect(await node.client().dbsize()).toBeGreaterThan(50);
    });

    it(`a cluster folds into a standalone target (${strategy}): every master is scanned`, async () => {
      await Promise.all([loadCluster(cluster, entries(shardA)), load(ct, [], entries(target))]);
      const model = foldModel(target, [shardA], table(strategy), MERGE);
      const report = await run({
        sources: [{ url: cluster.nodes[1]!.url }],
        target: t.url,
        table: table(strategy),
      });
      expect(report.outcome, report.error).toBe('done');
      expect(canonical(await readStore(ct))).toEqual(canonical(model.store));
      expect(counters(report)).toEqual(predicted(model));
    });
  }

  it('cluster and standalone sources mixed keep the fold order (list append, zset sum, override: last wins)', async () => {
    await Promise.all([
      load(ca, [], entries(shardA)),
      loadCluster(cluster, entries(shardB)),
      load(cb, [], entries(target)),
    ]);
    const before = dataset('t0', 300, (i) => i % 4 === 0);
    for (const strategy of ['merge', 'override'] as const) {
      await ct.flushall();
      await load(ct, [], entries(before));
      const model = foldModel(before, [shardA, shardB, target], table(strategy), MERGE);
      const report = await run({
        sources: [{ url: a.url }, { url: cluster.url }, { url: b.url }],
        target: t.url,
        table: table(strategy),
        write: { concurrency: 8, batchSize: 7 },
      });
      expect(report.outcome, report.error).toBe('done');
      expect(canonical(await readStore(ct))).toEqual(canonical(model.store));
      expect(counters(report)).toEqual(predicted(model));
    }
  });

  it('cluster into another cluster with a prefix', async () => {
    const other = await startCluster(3);
    try {
      const prefixed = new Map([...shardA].map(([k, e]) => [`p:${k}`, e]));
      const seeded = dataset('t', 300, (i) => i % 3 === 0, { prefix: 'p:k:' });
      await Promise.all([loadCluster(cluster, entries(shardA)), loadCluster(other, entries(seeded))]);
      const model = foldModel(seeded, [prefixed], table('merge'), MERGE);
      const report = await run({
        sources: [{ url: cluster.url, prefix: 'p:' }],
        target: other.nodes[2]!.url,
        table: table('merge'),
      });
      expect(report.outcome, report.error).toBe('done');
      expect(canonical(await readClusterStore(other))).toEqual(canonical(model.store));
      expect(counters(report)).toEqual(predicted(model));
      // The source cluster is only read.
      expect(canonical(await readClusterStore(cluster))).toEqual(canonical(shardA));
    } finally {
      await other.stop();
    }
  }, 60_000);

  it('slots migrated during the run (MOVED and ASK followed): no key lost, no list appended twice', async () => {
    // 2,000 keys in four hash tags (four slots); the target holds every other one as a list, so that
    // each of those is a list append: applied twice, it would show.
    const tags = ['r0', 'r1', 'r2', 'r3'];
    const source: Store = new Map();
    const seeded: Store = new Map();
    for (const tag of tags) {
      for (let i = 0; i < 500; i++) {
        const key = `{${tag}}:${i}`;
        source.set(key, { type: 'list', value: [`s-${i}`, 'x'], ttl: 'none' });
        if (i % 2 === 0) seeded.set(key, { type: 'list', value: [`t-${i}`], ttl: 'none' });
      }
    }
    await Promise.all([load(ca, [], entries(source)), loadCluster(cluster, entries(seeded))]);
    const model = foldModel(seeded, [source], table('merge'), MERGE);
    const moves = [0, 1].map((n) => ({ slot: slotOf(`{${tags[n]}}`), from: -1 }));
    for (const move of moves) move.from = await cluster.ownerOf(move.slot);

    let done = 0;
    let finished = false;
    let migrating: Promise<void> | undefined;
    const waitFor = async (keys: number): Promise<void> => {
      while (done < keys && !finished) await new Promise((r) => setTimeout(r, 2));
    };
    const progress: ProgressSink = {
      sourceStarted() {},
      update(_i, keysDone) {
        done = keysDone;
        // Once a tenth is written: move both slots; each keeps its ASK window open (one key moved, the
        // slot MIGRATING/IMPORTING) while the run writes 200 more keys.
        migrating ??= (async () => {
          for (const move of moves) {
            await cluster.migrateSlot(move.slot, (move.from + 1) % 3, () => waitFor(done + 200));
          }
        })();
      },
      sourceFinished() {},
      stop() {},
    };
    const report = await run({
      sources: [{ url: a.url }],
      target: cluster.url,
      table: table('merge'),
      write: { concurrency: 2, batchSize: 10 },
      progress,
    });
    finished = true;
    await migrating;
    expect(report.outcome, report.error).toBe('done');
    for (const move of moves) expect(await cluster.ownerOf(move.slot)).toBe((move.from + 1) % 3);
    // Both redirections happened during the run, and were followed.
    expect(await cluster.errorCount('ASK')).toBeGreaterThan(0);
    expect(await cluster.errorCount('MOVED')).toBeGreaterThan(0);
    expect(canonical(await readClusterStore(cluster))).toEqual(canonical(model.store));
    expect(counters(report)).toEqual(predicted(model));
  }, 60_000);

  it('a source cluster resharded during its scan: the keys moved to a master already walked are not missed', async () => {
    // 2,000 keys in one slot of one master, 20 on the master they move to (walked in one page) and
    // none on the third: the slot moves once the run has begun, while its old master is being walked.
    const moving: Store = new Map();
    for (let i = 0; i < 2000; i++) moving.set(`{m0}:${i}`, { type: 'string', value: `v${i}`, ttl: 'none' });
    const slot = slotOf('{m0}');
    const from = await cluster.ownerOf(slot);
    const to = (from + 1) % 3;
    const few: Store = new Map();
    for (let i = 0; few.size < 20; i++) {
      if ((await cluster.ownerOf(slotOf(`f${i}`))) === to)
        few.set(`f${i}`, { type: 'string', value: 'f', ttl: 'none' });
    }
    const all = new Map([...moving, ...few]);
    await loadCluster(cluster, entries(all));
    let migrating: Promise<void> | undefined;
    const progress: ProgressSink = {
      sourceStarted() {},
      update() {
        migrating ??= cluster.migrateSlot(slot, to);
      },
      sourceFinished() {},
      stop() {},
    };
    const report = await run({
      sources: [{ url: cluster.url }],
      target: t.url,
      table: table('override'),
      write: { concurrency: 1, batchSize: 10, scanCount: 20 },
      progress,
    });
    await migrating;
    expect(await cluster.ownerOf(slot)).toBe(to);
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals.created).toBe(all.size);
    expect(canonical(await readStore(ct))).toEqual(canonical(all));
  });

  it('a move that ends between the two questions of a layout read is not taken for no move', async () => {
    // The slot's keys have left `from`; the move's last step (SETSLOT NODE, which clears a master's mark
    // and names the new owner at once) lands on each master right after its first answer of the read.
    const slot = slotOf('{lay}');
    const from = await cluster.ownerOf(slot);
    const to = (from + 1) % 3;
    const admins = cluster.nodes.map((node) => node.client());
    const readers = cluster.nodes.map((node) => node.client());
    try {
      const ids = await Promise.all(admins.map(async (admin) => String(await admin.call('CLUSTER', 'MYID'))));
      await loadCluster(cluster, [['{lay}:1', { type: 'string', value: 'v', ttl: 'none' }]]);
      const before = await clusterLayout(readers);
      expect(before).toBeDefined();
      await admins[to]!.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', ids[from]!);
      await admins[from]!.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', ids[to]!);
      await admins[from]!.call('MIGRATE', '127.0.0.1', cluster.nodes[to]!.port, '{lay}:1', 0, 5000);
      const endingMove = readers.map((reader, i) => {
        let ended = false;
        return new Proxy(reader, {
          get(target, name, receiver) {
            if (name !== 'call') return Reflect.get(target, name, receiver);
            return async (...args: Parameters<Redis['call']>) => {
              const reply = await target.call(...args);
              if (!ended) {
                ended = true;
                await admins[i]!.call('CLUSTER', 'SETSLOT', slot, 'NODE', ids[to]!);
              }
              return reply;
            };
          },
        });
      });
      expect(await clusterLayout(endingMove)).not.toBe(before);
      expect(await cluster.ownerOf(slot)).toBe(to);
      expect(await clusterLayout(readers)).not.toBe(before);
    } finally {
      for (const client of [...admins, ...readers]) client.disconnect();
    }
  });

  it('a source cluster whose user may not ask CLUSTER NODES: the run says that moves cannot be seen', async () => {
    const admins = cluster.nodes.map((node) => node.client());
    try {
      await Promise.all(
        admins.map((admin) =>
          admin.call('ACL', 'SETUSER', 'nonodes', 'on', '>pw', '~*', '+@all', '-cluster|nodes'),
        ),
      );
      await loadCluster(cluster, entries(shardA));
      const url = new URL(cluster.nodes[0]!.url);
      url.username = 'nonodes';
      url.password = 'pw';
      const lines: string[] = [];
      const plan = resolvePlan(
        {
          version: 1,
          sources: [{ name: 's1', url: url.toString() }],
          target: { url: t.url },
          strategies: { default: 'override' },
        },
        {},
        {},
      );
      const report = await runMerge(plan, { log: (line) => lines.push(line) });
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals.created).toBe(shardA.size);
      expect(lines.filter((line) => line.includes('CLUSTER NODES is denied'))).toHaveLength(1);
      expect(lines.find((line) => line.includes('CLUSTER NODES is denied'))).toContain('+cluster|nodes');
      expect(lines.join('\n')).not.toContain('pw@');
    } finally {
      await Promise.all(admins.map((admin) => admin.call('ACL', 'DELUSER', 'nonodes')));
      for (const admin of admins) admin.disconnect();
    }
  });

  it('a source cluster whose user may ask CLUSTER NODES: no such warning', async () => {
    await loadCluster(cluster, entries(shardA));
    const lines: string[] = [];
    const plan = resolvePlan(
      {
        version: 1,
        sources: [{ name: 's1', url: cluster.url }],
        target: { url: t.url },
        strategies: { default: 'override' },
      },
      {},
      {},
    );
    const report = await runMerge(plan, { log: (line) => lines.push(line) });
    expect(report.outcome, report.error).toBe('done');
    expect(lines.some((line) => line.includes('CLUSTER NODES'))).toBe(false);
  });

  it('a failover during the run (CLUSTER FAILOVER): writes follow the new master, no list appended twice; a replica is never scanned', async () => {
    const ha = await startCluster(3, { replicas: 1 });
    try {
      const source: Store = new Map();
      const seeded: Store = new Map();
      for (let i = 0; i < 2000; i++) {
        source.set(`f:${i}`, { type: 'list', value: [`s-${i}`, 'x'], ttl: 'none' });
        if (i % 2 === 0) seeded.set(`f:${i}`, { type: 'list', value: [`t-${i}`], ttl: 'none' });
      }
      await Promise.all([load(ca, [], entries(source)), loadCluster(ha, entries(seeded))]);
      const model = foldModel(seeded, [source], table('merge'), MERGE);
      const oldMaster = ha.nodes[0]!;
      let failingOver: Promise<void> | undefined;
      let keysDone = 0;
      let doneAtFailover = Number.NaN;
      const progress: ProgressSink = {
        sourceStarted() {},
        update(_index, done) {
          keysDone = done;
          // The source stalls while the failover happens (one DEBUG SLEEP after another), so the run is
          // still writing when the old master turns replica: on a busy machine a failover can take
          // longer than the whole run, which then never wrote to the new master.
          failingOver ??= stallWhile(
            a,
            ha.failover(0).then(() => {
              doneAtFailover = keysDone;
            }),
          );
        },
        sourceFinished() {},
        stop() {},
      };
      const report = await run({
        sources: [{ url: a.url }],
        target: ha.url,
        table: table('merge'),
        write: { concurrency: 2, batchSize: 10 },
        progress,
      });
      await failingOver;
      expect(report.outcome, report.error).toBe('done');
      expect(ha.nodes[0]).not.toBe(oldMaster);
      // Most of the keys were written after the failover. How the writer learnt of it varies: a MOVED
      // from the old master, or an unconfirmed WAIT there that refreshed the slot table first.
      expect(doneAtFailover).toBeLessThan(source.size / 2);
      expect(canonical(await readClusterStore(ha))).toEqual(canonical(model.store));
      expect(counters(report)).toEqual(predicted(model));

      // The same cluster as a source: its masters are scanned, its replica (the old master) is not.
      await oldMaster.client().call('CONFIG', 'RESETSTAT');
      const out = await run({ sources: [{ url: oldMaster.url }], target: t.url, table: table('override') });
      expect(out.outcome, out.error).toBe('done');
      expect(canonical(await readStore(ct))).toEqual(canonical(model.store));
      const replicaStats = await oldMaster.client().info('commandstats');
      expect(replicaStats).not.toMatch(/cmdstat_scan:/);
      expect(replicaStats).not.toMatch(/cmdstat_(dump|type):/);
    } finally {
      await ha.stop();
    }
  }, 120_000);

  it('connections to a master cut again and again during the run: writes in doubt are resolved, no list appended twice', async () => {
    const source: Store = new Map();
    const seeded: Store = new Map();
    for (let i = 0; i < 3000; i++) {
      source.set(`c:${i}`, { type: 'list', value: [`s-${i}`, 'x'], ttl: 'none' });
      if (i % 2 === 0) seeded.set(`c:${i}`, { type: 'list', value: [`t-${i}`], ttl: 'none' });
    }
    await Promise.all([load(ca, [], entries(source)), loadCluster(cluster, entries(seeded))]);
    const model = foldModel(seeded, [source], table('merge'), MERGE);
    const killer = cluster.nodes[1]!.client();
    let finished = false;
    let killed = 0;
    let cutting: Promise<void> | undefined;
    const progress: ProgressSink = {
      sourceStarted() {},
      update() {
        // CLIENT KILL drops every client of that master but the one asking (SKIPME yes).
        cutting ??= (async () => {
          while (!finished) {
            killed += Number(await killer.call('CLIENT', 'KILL', 'TYPE', 'normal'));
            await new Promise((r) => setTimeout(r, 40));
          }
        })();
      },
      sourceFinished() {},
      stop() {},
    };
    const report = await run({
      sources: [{ url: a.url }],
      target: cluster.url,
      table: table('merge'),
      write: { concurrency: 4, batchSize: 20 },
      progress,
    });
    finished = true;
    await cutting;
    expect(killed).toBeGreaterThan(2);
    expect(report.outcome, report.error).toBe('done');
    expect(canonical(await readClusterStore(cluster))).toEqual(canonical(model.store));
    expect(counters(report)).toEqual(predicted(model));
  }, 60_000);

  it.each(['native', 'auto'] as const)(
    'big keys into a cluster and out of one (%s mode): windows with temporary keys in the key’s slot, none left, or streamed whole to the slot’s master',
    async (mode) => {
      // Names whose own bytes make no usable hash tag: the temporary key must still share their slot.
      const names = ['big:plain', 'x}y', '{}a}', '{tag}big', 'big{'];
      const big = (tag: string, shift: number): Store => {
        const store: Store = new Map();
        names.forEach((name, n) => {
          const type = MODEL_TYPES[(n + shift) % MODEL_TYPES.length]!;
          const items = Array.from({ length: 300 }, (_, i) => `${i % 2 === 0 ? 'shared' : tag}-${i}`);
          const entry: Entry =
            type === 'string'
              ? { type, value: items.join(','), ttl: 'none' }
              : type === 'hash'
                ? { type, value: items.map((f) => [f, tag]), ttl: 'none' }
                : type === 'zset'
                  ? { type, value: items.map((m, i) => [m, i]), ttl: 'none' }
                  : { type, value: items, ttl: 'none' };
          store.set(name, entry);
        });
        return store;
      };
      const onTarget = big('t', 0);
      const incoming = big('s', 0);
      const write = { bigKeyElements: 50, bigKeyBytes: 1024, mode };
      // On the dump path an override streams each big value whole (one RESTORE on its slot's master);
      // natively, and for every merge, it goes in windows.
      const restores = async (servers: RedisServer[]): Promise<number> => {
        let n = 0;
        for (const server of servers) n += (await commandCalls(server.client(), ['restore'])).restore!;
        return n;
      };
      const resetStats = (servers: RedisServer[]) =>
        Promise.all(servers.map((server) => server.client().config('RESETSTAT')));
      for (const strategy of ['override', 'merge'] as const) {
        // A string cannot be merged: under 'merge' it is overridden, and streamed too.
        const copied =
          strategy === 'override'
            ? names.length
            : [...onTarget.values()].filter((e) => e.type === 'string').length;
        const streamed = mode === 'auto' ? copied : 0;
        // Into the cluster.
        await Promise.all([cluster.flushall(), ca.flushall()]);
        await Promise.all([loadCluster(cluster, entries(onTarget)), load(ca, [], entries(incoming))]);
        await resetStats(cluster.nodes);
        let model = foldModel(onTarget, [incoming], table(strategy), MERGE);
        let report = await run({
          sources: [{ url: a.url }],
          target: cluster.url,
          table: table(strategy),
          write,
        });
        expect(report.outcome, report.error).toBe('done');
        expect(canonical(await readClusterStore(cluster))).toEqual(canonical(model.store));
        expect(counters(report)).toEqual(predicted(model));
        expect(await tempKeysLeft(cluster)).toEqual([]);
        expect(await restores(cluster.nodes)).toBe(streamed);
        // Out of the cluster, into a new key of every name and into the target's own.
        await Promise.all([cluster.flushall(), ct.flushall()]);
        await Promise.all([loadCluster(cluster, entries(incoming)), load(ct, [], entries(onTarget))]);
        await resetStats([t]);
        model = foldModel(onTarget, [incoming], table(strategy), MERGE);
        report = await run({ sources: [{ url: cluster.url }], target: t.url, table: table(strategy), write });
        expect(report.outcome, report.error).toBe('done');
        expect(canonical(await readStore(ct))).toEqual(canonical(model.store));
        expect(await restores([t])).toBe(streamed);
      }
    },
    60_000,
  );

  it('a dry run on a cluster target writes nothing and counts what the real run counts', async () => {
    await Promise.all([
      loadCluster(cluster, entries(target)),
      load(ca, [], entries(shardA)),
      load(cb, [], entries(shardB)),
    ]);
    const before = await Promise.all(cluster.nodes.map((node) => digest(node)));
    const opts = { sources: [{ url: a.url }, { url: b.url }], target: cluster.url, table: table('merge') };
    const dry = await run({ ...opts, dryRun: true });
    expect(dry.outcome, dry.error).toBe('done');
    expect(await Promise.all(cluster.nodes.map((node) => digest(node)))).toEqual(before);
    const real = await run(opts);
    expect(real.outcome, real.error).toBe('done');
    expect(counters(dry)).toEqual(counters(real));
    expect(counters(real)).toEqual(predicted(foldModel(target, [shardA, shardB], table('merge'), MERGE)));
  });

  it('TTLs arrive on the cluster, on whichever master owns the key', async () => {
    for (let i = 0; i < 30; i++) await ca.set(`ttl:${i}`, 'v', 'PX', 100_000);
    const report = await run({ sources: [{ url: a.url }], target: cluster.url, table: table('override') });
    expect(report.outcome, report.error).toBe('done');
    const client = cluster.client();
    for (let i = 0; i < 30; i++) {
      const pttl = await client.pttl(`ttl:${i}`);
      expect(pttl).toBeGreaterThan(90_000);
      expect(pttl).toBeLessThanOrEqual(100_000);
    }
    client.disconnect();
  });

  it('a cluster read by a +@read user (no INFO): found to be a cluster, every master read; without CLUSTER SLOTS, exit 2 naming it', async () => {
    await loadCluster(cluster, entries(shardA));
    const admins = cluster.nodes.map((node) => node.client());
    try {
      for (const admin of admins) {
        await admin.call('ACL', 'SETUSER', 'reader', 'reset', 'on', '>pw', '~*', '+@read', '+cluster|slots');
        await admin.call('ACL', 'SETUSER', 'blind', 'reset', 'on', '>pw', '~*', '+@read');
      }
      const readerUrl = cluster.nodes[1]!.url.replace('redis://', 'redis://reader:pw@');
      const report = await run({ sources: [{ url: readerUrl }], target: t.url, table: table('override') });
      expect(report.outcome, report.error).toBe('done');
      expect(canonical(await readStore(ct))).toEqual(canonical(shardA));
      const blindUrl = cluster.nodes[1]!.url.replace('redis://', 'redis://blind:pw@');
      const refused = run({ sources: [{ url: blindUrl }], target: t.url, table: table('override') });
      await expect(refused).rejects.toThrow(ConnectionError);
      await expect(refused).rejects.toThrow(/may not run CLUSTER SLOTS.*\+cluster\|slots/);
      expect(String(await refused.catch((e: Error) => e.message))).not.toContain(':pw@');
    } finally {
      for (const admin of admins) {
        await admin.call('ACL', 'DELUSER', 'reader', 'blind');
        admin.disconnect();
      }
    }
  });

  it('a source that is a node of the target cluster is refused before anything is written', async () => {
    await ca.set('k', 'v');
    await expect(
      run({
        sources: [{ url: a.url }, { url: cluster.nodes[2]!.url }],
        target: cluster.nodes[0]!.url,
        table: table('override'),
      }),
    ).rejects.toThrow(ConnectionError);
    await expect(
      run({
        sources: [{ url: cluster.nodes[2]!.url }],
        target: cluster.nodes[0]!.url,
        table: table('override'),
      }),
    ).rejects.toThrow(/is the target itself/);
    expect(await cluster.dbsize()).toBe(0);
  });
});
