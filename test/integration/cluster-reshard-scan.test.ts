/**
 * A source cluster resharded while its keys are walked: a walk that ends while a slot is still moving
 * can have missed keys (moved from the part of a master not yet walked to a master already walked),
 * so the scanner waits for the slots to settle and walks again. A reshard is seen on every master, not
 * only on the one first asked (which, when it is neither end of the move, learns of it last); a slot
 * left migrating ends the run, naming the slot, instead of a quiet gap.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RunError } from '../../src/common/errors.js';
import { SeenKeys } from '../../src/common/seen-keys.js';
import { type JsonReport, resolvePlan, runMerge } from '../../src/index.js';
import type { ProgressSink } from '../../src/report/types.js';
import { scanBatches } from '../../src/scan/scanner.js';
import { slotOf, startCluster, type TestCluster } from '../harness/cluster.js';
import { load, loadCluster, readStore } from '../harness/model-store.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { canonical, type Store } from '../property/model.js';

function run(
  source: string | string[],
  target: string,
  progress: ProgressSink,
  retryBudgetMs = 30_000,
): Promise<JsonReport> {
  const plan = resolvePlan(
    {
      version: 1,
      sources: [source].flat().map((url, i) => ({ name: `s${i + 1}`, url })),
      target: { url: target },
      strategies: { default: 'override' },
      // Small batches and pages: the walk of the moving slot's master takes a hundred SCAN pages.
      write: { concurrency: 1, batchSize: 10, scanCount: 20 },
      network: { retryBudgetMs },
      dryRun: false,
    },
    {},
    {},
  );
  return runMerge(plan, { progress });
}

/** A progress sink that calls `act` once, at the first batch done. */
function onFirstBatch(act: () => Promise<void>): {
  sink: ProgressSink;
  started: () => Promise<void> | undefined;
} {
  let started: Promise<void> | undefined;
  return {
    sink: {
      sourceStarted() {},
      update() {
        started ??= act();
      },
      sourceFinished() {},
      stop() {},
    },
    started: () => started,
  };
}

describe('a source cluster resharded during its scan', () => {
  let cluster: TestCluster;
  let t: RedisServer;
  let ct: Redis;

  beforeAll(async () => {
    [cluster, t] = await Promise.all([startCluster(3), startRedis()]);
    ct = t.client();
  }, 60_000);

  afterAll(async () => {
    await Promise.all([cluster?.stop(), t?.stop()]);
  });

  beforeEach(async () => {
    await ct.flushall();
  });

  /**
   * 2,000 keys in a slot of the second master, to move to the third, and 20 keys on the third (its walk
   * ends in one page, long before the second master's). The first master, which the cluster's
   * connection lists first, is neither end of the move.
   */
  async function loadMovingSlot(): Promise<{ slot: number; all: Store }> {
    await cluster.flushall();
    let tag = 0;
    while ((await cluster.ownerOf(slotOf(`{r${tag}}`))) !== 1) tag++;
    const all: Store = new Map();
    for (let i = 0; i < 2000; i++) all.set(`{r${tag}}:${i}`, { type: 'string', value: `v${i}`, ttl: 'none' });
    for (let i = 0; all.size < 2020; i++) {
      if ((await cluster.ownerOf(slotOf(`f${i}`))) === 2)
        all.set(`f${i}`, { type: 'string', value: 'f', ttl: 'none' });
    }
    await loadCluster(cluster, [...all]);
    return { slot: slotOf(`{r${tag}}`), all };
  }

  it('a reshard that outlasts the walk (ten keys a MIGRATE, a pause after each): the scan waits for it, then walks again; no key missed', async () => {
    const { slot, all } = await loadMovingSlot();
    const reshard = onFirstBatch(() => cluster.migrateSlot(slot, 2, undefined, { keys: 10, pauseMs: 20 }));
    const report = await run(cluster.url, t.url, reshard.sink);
    await reshard.started();
    expect(await cluster.ownerOf(slot)).toBe(2);
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals.created).toBe(all.size);
    expect(canonical(await readStore(ct))).toEqual(canonical(all));
  });

  it('a slot left migrating: the run fails within the retry budget, naming the slot, rather than end with keys possibly missed', async () => {
    const { slot } = await loadMovingSlot();
    let release = (): void => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // One key moves, then the reshard stands still (as one whose redis-cli was killed) until the run ends.
    const reshard = onFirstBatch(() => cluster.migrateSlot(slot, 2, () => released));
    const started = Date.now();
    const report = await run(cluster.url, t.url, reshard.sink, 2_000);
    const took = Date.now() - started;
    release();
    await reshard.started();
    expect(report.outcome).toBe('failed');
    expect(report.error).toContain(`slot ${slot} still being migrated`);
    expect(report.error).toContain('redis-cli --cluster fix');
    // Not a hang: the wait ends with the 2 s budget (20 s leaves room for a busy machine).
    expect(took).toBeLessThan(20_000);
  });

  it('a slot left migrating before the run: it fails before writing anything, naming the slot', async () => {
    const { slot } = await loadMovingSlot();
    let release = (): void => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let stalled = (): void => {};
    const isStalled = new Promise<void>((resolve) => {
      stalled = resolve;
    });
    const reshard = cluster.migrateSlot(slot, 2, () => {
      stalled();
      return released;
    });
    await isStalled;
    const report = await run(cluster.url, t.url, onFirstBatch(async () => {}).sink, 2_000);
    release();
    await reshard;
    expect(report.outcome).toBe('failed');
    expect(report.error).toContain(`slot ${slot} still being migrated`);
    expect(report.totals.created).toBe(0);
    expect(await ct.dbsize()).toBe(0);
  });

  it('a master added and given slots after the run connected, while an earlier source is merged: the cluster’s walk reads it too', async () => {
    const cs = await startCluster(3);
    const first = await startRedis();
    try {
      const early: Store = new Map();
      for (let i = 0; i < 300; i++) early.set(`a:${i}`, { type: 'string', value: `a${i}`, ttl: 'none' });
      const moved: Store = new Map();
      for (let i = 0; i < 200; i++) moved.set(`{n0}:${i}`, { type: 'string', value: 'n0', ttl: 'none' });
      const rest: Store = new Map();
      for (let i = 0; i < 500; i++) rest.set(`p:${i}`, { type: 'string', value: `p${i}`, ttl: 'none' });
      await loadCluster(cs, [...moved, ...rest]);
      const firstClient = first.client();
      await load(firstClient, [], [...early]);
      firstClient.disconnect();
      // While the first source is merged (its writes held back: the target sleeps until the master has
      // its slot), the cluster, already connected, gains a master that takes the slot of {n0} and its keys.
      let grown = false;
      const grow = onFirstBatch(async () => {
        const sleeper = t.client();
        const throttle = (async () => {
          while (!grown) await sleeper.call('DEBUG', 'SLEEP', '0.2');
        })();
        try {
          const added = await cs.addMaster();
          await cs.migrateSlot(slotOf('{n0}'), added);
        } finally {
          grown = true;
          await throttle;
          sleeper.disconnect();
        }
      });
      const report = await run([first.url, cs.url], t.url, grow.sink);
      await grow.started();
      expect(await cs.ownerOf(slotOf('{n0}'))).toBe(3);
      expect(report.outcome, report.error).toBe('done');
      const all = new Map([...early, ...moved, ...rest]);
      expect(report.totals.created).toBe(all.size);
      expect(canonical(await readStore(ct))).toEqual(canonical(all));
    } finally {
      await Promise.all([cs.stop(), first.stop()]);
    }
  }, 90_000);

  it('slots that move during every walk: the scanner stops after six walks with a RunError, never ends quietly', async () => {
    // The scanner's loop alone, over a real server's SCAN, with a cluster whose layout differs each
    // time it is asked (a reshard under every walk, which a real cluster cannot be timed to give).
    const node = t.client();
    await node.mset('a', '1', 'b', '2', 'c', '3');
    let asked = 0;
    let settled = 0;
    const restless = {
      layout: async () => `layout ${asked++}`,
      settle: async () => {
        settled++;
      },
    };
    const caps = { scanx: false, multiTypeNames: false, keyspaceNeedsStats: false };
    const keys: string[] = [];
    const walk = async () => {
      for await (const batch of scanBatches(
        [node],
        { count: 10, batchSize: 1, server: 'source s1' },
        new SeenKeys(),
        3,
        caps,
        restless,
      ))
        for (const unit of batch.units) keys.push(unit.key.toString());
    };
    const err = await walk().then(
      () => undefined,
      (e: unknown) => e,
    );
    node.disconnect();
    expect(err).toBeInstanceOf(RunError);
    expect((err as Error).message).toMatch(/^source s1: the cluster's slots moved during each of 6 walks/);
    // Six walks, each key yielded once; settled before the first walk and before each of the five again.
    expect(asked).toBe(12);
    expect(settled).toBe(6);
    expect(keys.sort()).toEqual(['a', 'b', 'c']);
  });
});
