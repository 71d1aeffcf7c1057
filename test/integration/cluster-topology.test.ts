/**
 * Changes of a Redis Cluster during a run (SPEC §7, §6.4): a master killed (kill -9) and its replica
 * promoted by the cluster itself, on the target and on a source; a master added to a source cluster
 * and given slots mid-scan; a big key's slot migrated between two of its windows; and, on a steady
 * cluster, no redirection at all (commands routed by their key, also after a subcommand). Real
 * clusters of redis-server (test/harness/cluster.ts) with a short cluster-node-timeout, so that a
 * failover takes a few seconds. The target is compared with the model
 * of the fold (test/property/model.ts): an append or a sum applied twice shows.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MergePlan } from '../../src/config/plan.js';
import { parseRedisUrl } from '../../src/config/url.js';
import { type JsonReport, type RunEvent, RunEvents, resolvePlan, runMerge } from '../../src/index.js';
import type { ProgressSink } from '../../src/report/types.js';
import { ClusterTransport } from '../../src/servers/cluster/cluster-transport.js';
import { DEFAULT_NETWORK } from '../../src/servers/socket.js';
import type { MergeOptions } from '../../src/types/strategy.js';
import { verify } from '../../src/verify/verify.js';
import { slotOf, startCluster } from '../harness/cluster.js';
import { load, loadCluster, readClusterStore, readStore } from '../harness/model-store.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { canonical, type Entry, foldModel, type ModelTable, type Store } from '../property/model.js';

const MERGE: MergeOptions = { hashField: 'source', zsetScore: 'sum', list: 'append', ttl: 'max' };

const TABLE: ModelTable = {
  string: 'override',
  hash: 'merge',
  set: 'merge',
  zset: 'merge',
  list: 'merge',
  typeMismatch: 'override',
};

/** Node timeout of the clusters here: a killed master is replaced after about twice this. */
const NODE_TIMEOUT_MS = 1_500;

function run(
  source: string,
  target: string,
  write: Record<string, unknown>,
  progress: ProgressSink,
  events?: RunEvents,
): Promise<JsonReport> {
  return runMerge(planFor(source, target, write), { progress, ...(events ? { events } : {}) });
}

function planFor(source: string, target: string, write: Record<string, unknown>): MergePlan {
  return resolvePlan(
    {
      version: 1,
      sources: [{ name: 's1', url: source }],
      target: { url: target },
      strategies: {
        default: 'skip',
        string: 'override',
        hash: 'merge',
        set: 'merge',
        zset: 'merge',
        list: 'merge',
      },
      typeMismatch: 'override',
      merge: MERGE,
      write,
      // A key whose step cannot be told applied or not is named and skipped; the run goes on.
      safety: { onError: 'skip' },
      dryRun: false,
    },
    {},
    {},
  );
}

/** Calls `act` once, at the first progress update after `atKeys` keys are done. */
function trigger(atKeys: number, act: (done: number) => Promise<unknown>) {
  let fired: Promise<unknown> | undefined;
  let doneAtFire = -1;
  const sink: ProgressSink = {
    sourceStarted() {},
    update(_i, keysDone) {
      if (fired || keysDone < atKeys) return;
      doneAtFire = keysDone;
      fired = act(keysDone);
    },
    sourceFinished() {},
    stop() {},
  };
  return { sink, fired: () => fired, doneAtFire: () => doneAtFire };
}

const one = (key: string, entry: Entry | undefined) => canonical(new Map(entry ? [[key, entry]] : []));

describe('Redis Cluster changing under a run: a master killed, a master added, a slot moved mid-key', () => {
  let a: RedisServer;
  let t: RedisServer;
  let ca: Redis;
  let ct: Redis;

  beforeAll(async () => {
    [a, t] = await Promise.all([startRedis(), startRedis()]);
    [ca, ct] = [a.client(), t.client()];
  }, 30_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), t?.stop()]);
  });

  beforeEach(async () => {
    await Promise.all([ca.flushall(), ct.flushall()]);
  });

  it('a target master killed mid-run (kill -9, its replica promoted): every list and zset is the fold, none applied twice', async () => {
    const ha = await startCluster(3, { replicas: 3, nodeTimeoutMs: NODE_TIMEOUT_MS });
    try {
      // List appends and zset sums: both show a step applied twice. A third of the keys exist on the
      // target, so their steps are merges.
      const source: Store = new Map();
      const seeded: Store = new Map();
      for (let i = 0; i < 3000; i++) {
        if (i % 2 === 0) {
          source.set(`l:${i}`, { type: 'list', value: [`s-${i}`, 'x'], ttl: 'none' });
          if (i % 3 === 0) seeded.set(`l:${i}`, { type: 'list', value: [`t-${i}`], ttl: 'none' });
        } else {
          source.set(`z:${i}`, {
            type: 'zset',
            value: [
              ['m', 1],
              [`s-${i}`, 2],
            ],
            ttl: 'none',
          });
          if (i % 3 === 0) seeded.set(`z:${i}`, { type: 'zset', value: [['m', 5]], ttl: 'none' });
        }
      }
      await Promise.all([load(ca, [], [...source]), loadCluster(ha, [...seeded])]);
      const model = foldModel(seeded, [source], TABLE, MERGE);
      const killed = ha.nodes[1]!.port;
      const kill = trigger(300, () => ha.crash(1));
      const events = new RunEvents();
      const said: RunEvent[] = [];
      events.on((e) => said.push(e));
      const report = await run(a.url, ha.url, { concurrency: 2, batchSize: 10 }, kill.sink, events);
      await kill.fired();
      // The promotion was said as it happened on the run's event channel (the CLI logs it live).
      const topology = said.filter((e) => e.kind === 'topology');
      expect(topology.length, JSON.stringify(said)).toBeGreaterThanOrEqual(1);
      expect(topology[0]).toMatchObject({ server: expect.stringMatching(/^target\b/) });
      expect(events.counts.topology).toBe(topology.length);
      // The master died with most of the run still to do, and its replica took over.
      expect(kill.doneAtFire()).toBeLessThan(1500);
      expect(ha.nodes[1]!.port).not.toBe(killed);
      // Followed to the promoted replica within seconds: a transport that kept reconnecting to the dead
      // address would spend the whole retry budget (30 s) first.
      expect(report.durationMs).toBeLessThan(25_000);

      // A step in flight when the master died whose outcome cannot be told (a zset sum) is named and
      // skipped; every other key is exactly the fold, and a named key holds its value before the step
      // or after it, never the step twice.
      const failed = new Set((report.failedKeys ?? []).map((f) => f.key!));
      for (const f of report.failedKeys ?? []) expect(f.reason).toMatch(/outcome could not be told/);
      expect(report.totals.failed).toBe(failed.size);
      if (failed.size === 0) expect(report.outcome, report.error).toBe('done');
      else expect(report.error).toMatch(/could not be merged/);
      const store = await readClusterStore(ha);
      expect([...store.keys()].sort()).toEqual([...model.store.keys()].sort());
      for (const [key, want] of model.store) {
        const got = one(key, store.get(key));
        if (failed.has(key)) expect([one(key, seeded.get(key)), one(key, want)]).toContainEqual(got);
        else expect(got, key).toEqual(one(key, want));
      }
    } finally {
      await ha.stop();
    }
  }, 90_000);

  it('a replica asleep (WAIT times out): the writes its master took are checked, not doubled; every list is the fold', async () => {
    const ha = await startCluster(3, { replicas: 3, nodeTimeoutMs: 6_000 });
    try {
      const source: Store = new Map();
      const seeded: Store = new Map();
      for (let i = 0; i < 3000; i++) {
        source.set(`w:${i}`, { type: 'list', value: [`s-${i}`, 'x'], ttl: 'none' });
        if (i % 2 === 0) seeded.set(`w:${i}`, { type: 'list', value: [`t-${i}`], ttl: 'none' });
      }
      await Promise.all([load(ca, [], [...source]), loadCluster(ha, [...seeded])]);
      const model = foldModel(seeded, [source], TABLE, MERGE);
      const master = ha.nodes[1]!.client();
      await master.config('RESETSTAT');
      const sleeper = ha.replicas[1]!.client();
      const sleep = trigger(300, () => sleeper.call('DEBUG', 'SLEEP', '3'));
      const report = await run(a.url, ha.url, { concurrency: 2, batchSize: 10 }, sleep.sink);
      await sleep.fired();
      sleeper.disconnect();
      expect(sleep.doneAtFire()).toBeLessThan(1500);
      expect(report.outcome, report.error).toBe('done');
      expect(canonical(await readClusterStore(ha))).toEqual(canonical(model.store));
      // Writes ended with WAIT on that master, and those it did not confirm were checked (EXISTS for a
      // create, LLEN for an append) before they counted: a check is the writer's resolution, not the
      // probe's. Each append also reads LLEN once before its step, so the checks are the LLENs beyond
      // the appends to that master (it owns the second third of the slots; no slot moves here), plus
      // every EXISTS. Which kind the sleep catches depends on timing; that some were checked does not.
      const stats = await master.info('commandstats');
      master.disconnect();
      expect(stats).toMatch(/cmdstat_wait:calls=[1-9]/);
      const calls = (name: string): number =>
        Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
      const appendsThere = [...seeded.keys()].filter((key) => {
        const slot = slotOf(key);
        return slot >= Math.floor(16384 / 3) && slot < Math.floor((2 * 16384) / 3);
      }).length;
      expect(appendsThere).toBeGreaterThan(0);
      expect(calls('exists') + calls('llen') - appendsThere).toBeGreaterThan(0);
    } finally {
      await ha.stop();
    }
  }, 90_000);

  it('a write a check found applied counts only once its master’s replicas have it: false while the replica sleeps, true after, false after a layout change', async () => {
    const ha = await startCluster(3, { replicas: 3, nodeTimeoutMs: 6_000 });
    const transport = await ClusterTransport.open(parseRedisUrl(ha.url), 'target', DEFAULT_NETWORK);
    try {
      const key = Buffer.from('checked');
      const owner = await ha.ownerOf(slotOf(key));
      // The replica acknowledges what the master held before it slept.
      await transport.send([['SET', key, 'before']], { resend: false });
      expect(await transport.replicatedKeys([key], transport.reconnects)).toBe(true);
      const sleeper = ha.replicas[owner]!.client();
      const asleep = sleeper.call('DEBUG', 'SLEEP', '3');
      await new Promise((r) => setTimeout(r, 100));
      // Written on the master by another client (the check found it there): not on the replica yet.
      const master = ha.nodes[owner]!.client();
      await master.set(key, 'after');
      const epoch = transport.reconnects;
      const started = Date.now();
      expect(await transport.replicatedKeys([key], epoch)).toBe(false);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
      await asleep;
      sleeper.disconnect();
      await expect.poll(() => transport.replicatedKeys([key], epoch), { timeout: 5_000 }).toBe(true);
      // A check read over a connection since replaced says nothing about the master of now.
      await ha.migrateSlot(slotOf(key), (owner + 1) % 3);
      await transport.send([['GET', key]]);
      expect(transport.reconnects).not.toBe(epoch);
      expect(await transport.replicatedKeys([key], epoch)).toBe(false);
      master.disconnect();
    } finally {
      transport.close();
      await ha.stop();
    }
  }, 90_000);

  it('a source master killed mid-scan (kill -9, its replica promoted): its keys are read from the replica, none missed', async () => {
    const hs = await startCluster(3, { replicas: 3, nodeTimeoutMs: NODE_TIMEOUT_MS });
    try {
      const all: Store = new Map();
      for (let i = 0; i < 3000; i++) all.set(`s:${i}`, { type: 'string', value: `v${i}`, ttl: 'none' });
      await loadCluster(hs, [...all]);
      const killed = hs.nodes[1]!.port;
      const kill = trigger(100, () => hs.crash(1));
      const report = await run(hs.url, t.url, { concurrency: 1, batchSize: 10, scanCount: 10 }, kill.sink);
      await kill.fired();
      expect(kill.doneAtFire()).toBeLessThan(1500);
      expect(hs.nodes[1]!.port).not.toBe(killed);
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals.created).toBe(all.size);
      expect(canonical(await readStore(ct))).toEqual(canonical(all));

      // verify walks the masters of now too: another master killed mid-walk costs it no key.
      let killing: Promise<void> | undefined;
      const checked = await verify(
        planFor(hs.url, t.url, { batchSize: 10, scanCount: 10 }),
        {},
        {
          progress(done) {
            if (done >= 100) killing ??= hs.crash(2);
          },
        },
      );
      await killing;
      expect(killing).toBeDefined();
      expect(checked.outcome).toBe('equal');
      expect(checked.checked).toBe(all.size);
    } finally {
      await hs.stop();
    }
  }, 90_000);

  it('a master added to a source cluster mid-scan, slots with keys migrated to it: its keys are scanned too', async () => {
    const cs = await startCluster(3);
    try {
      // Keys of four hash tags (four slots) move to the new master once the run has begun.
      const tags = ['n0', 'n1', 'n2', 'n3'];
      const all: Store = new Map();
      for (let i = 0; i < 2000; i++) all.set(`p:${i}`, { type: 'string', value: `v${i}`, ttl: 'none' });
      for (const tag of tags) {
        for (let i = 0; i < 200; i++) all.set(`{${tag}}:${i}`, { type: 'string', value: tag, ttl: 'none' });
      }
      await loadCluster(cs, [...all]);
      // The target is put to sleep again and again (DEBUG SLEEP) while the master joins and takes the
      // slots, so that the run, held back by its writes, cannot end first however slow gossip is.
      let grown = false;
      const grow = trigger(50, async () => {
        const sleeper = t.client();
        const throttle = (async () => {
          while (!grown) await sleeper.call('DEBUG', 'SLEEP', '0.2');
        })();
        try {
          const newMaster = await cs.addMaster();
          for (const tag of tags) await cs.migrateSlot(slotOf(`{${tag}}`), newMaster);
        } finally {
          grown = true;
          await throttle;
          sleeper.disconnect();
        }
      });
      const report = await run(cs.url, t.url, { concurrency: 1, batchSize: 10, scanCount: 10 }, grow.sink);
      await grow.fired();
      for (const tag of tags) expect(await cs.ownerOf(slotOf(`{${tag}}`))).toBe(3);
      // The new master was walked (the keys were not all read before they moved).
      const added = cs.nodes[3]!.client();
      expect(await added.info('commandstats')).toMatch(/cmdstat_scan:calls=[1-9]/);
      added.disconnect();
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals.created).toBe(all.size);
      expect(canonical(await readStore(ct))).toEqual(canonical(all));
    } finally {
      await cs.stop();
    }
  }, 90_000);

  it('commands whose key follows a subcommand (MEMORY USAGE, XINFO, XGROUP CREATE) go to the key’s master: no MOVED on a steady cluster', async () => {
    const [from, into] = await Promise.all([startCluster(3), startCluster(3)]);
    try {
      const all: Store = new Map();
      for (let i = 0; i < 300; i++) all.set(`u:${i}`, { type: 'string', value: `v${i}`, ttl: 'none' });
      await loadCluster(from, [...all]);
      const client = from.client();
      for (let i = 0; i < 30; i++) {
        await client.xadd(`st:${i}`, '1-1', 'f', `v${i}`);
        await client.xgroup('CREATE', `st:${i}`, `g${i}`, '0');
      }
      // (ioredis itself sends XGROUP to the master of `CREATE`: those MOVED are not the run's.)
      for (const node of from.nodes) {
        const admin = node.client();
        await admin.config('RESETSTAT');
        admin.disconnect();
      }
      const report = await run(
        from.url,
        into.url,
        { concurrency: 2, batchSize: 20 },
        trigger(1e9, async () => 0).sink,
      );
      expect(report.outcome, report.error).toBe('done');
      expect(report.totals.created).toBe(330);
      // Every command reached the master of its key at once: not one MOVED on either cluster.
      expect(await from.errorCount('MOVED')).toBe(0);
      expect(await into.errorCount('MOVED')).toBe(0);
      const target = into.client();
      for (let i = 0; i < 30; i++) {
        const groups = (await target.xinfo('GROUPS', `st:${i}`)) as unknown[][];
        expect(String(groups[0]![1])).toBe(`g${i}`);
      }
    } finally {
      await Promise.all([from.stop(), into.stop()]);
    }
  }, 60_000);
  it('a big key’s slot migrated while its windows are written (ASK, then MOVED): the list arrives whole, no window twice, no temporary key left', {
    timeout: 90_000,
  }, async () => {
    const cs = await startCluster(3);
    try {
      const key = 'big:moving';
      const items = Array.from({ length: 400_000 }, (_, i) => `e${i}`);
      for (let i = 0; i < items.length; i += 10_000) await ca.rpush(key, ...items.slice(i, i + 10_000));
      const slot = slotOf(key);
      const from = await cs.ownerOf(slot);
      const to = (from + 1) % 3;
      // Once the temporary key appears on the key's master (the first window written), the slot moves:
      // the temporary key first, then an ASK window of 100 ms, then MOVED for the rest of the copy.
      const owner = cs.nodes[from]!.client();
      let stop = false;
      let copying = false;
      const moving = (async () => {
        while (!stop && (await owner.keys('kvmerge-tmp:*')).length === 0)
          await new Promise((r) => setTimeout(r, 1));
        if (stop) return;
        copying = true;
        await cs.migrateSlot(slot, to, () => new Promise((r) => setTimeout(r, 100)));
      })();
      const report = await run(
        a.url,
        cs.url,
        { bigKeyElements: 1000, mode: 'native' },
        trigger(1e9, async () => 0).sink,
      );
      stop = true;
      await moving;
      owner.disconnect();
      expect(copying).toBe(true);
      expect(report.outcome, report.error).toBe('done');
      expect(await cs.ownerOf(slot)).toBe(to);
      // The copy met both redirections, and followed them.
      expect(await cs.errorCount('ASK')).toBeGreaterThan(0);
      expect(await cs.errorCount('MOVED')).toBeGreaterThan(0);
      const target = cs.client();
      expect(await target.lrange(key, 0, -1)).toEqual(items);
      for (const node of cs.nodes) {
        const admin = node.client();
        expect(await admin.keys('kvmerge-tmp:*')).toEqual([]);
        admin.disconnect();
      }
    } finally {
      await cs.stop();
    }
  });
});
