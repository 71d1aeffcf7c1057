/**
 * A follow (SPEC §9) whose source changes its topology under it: a Redis Cluster resharded (slots and
 * their keys migrated between masters) and a Sentinel master failed over, each while writers change
 * the source. The follow must hear the change of layout or of master, make a reconciliation pass, and
 * end with the target the exact fold of the sources (verify with the journal: equal).
 */
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type JsonReport, type MergePlan, resolvePlan, runMerge } from '../../src/index.js';
import { slotOf, startCluster } from '../harness/cluster.js';
import { until, verifyEqual } from '../harness/follow.js';
import { startRedis } from '../harness/redis.js';
import { MASTER_NAME, startSentinelSet } from '../harness/sentinel.js';
import { startWriter } from '../harness/writers.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerge-follow-topo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STRATEGIES = { hash: 'merge', set: 'merge', zset: 'merge', list: 'merge', string: 'override' };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function planFor(source: string, target: string, backup: string): MergePlan {
  return resolvePlan(
    {
      version: 1,
      sources: [{ url: source, name: 's1' }],
      target: { url: target },
      strategies: STRATEGIES,
    },
    { backup, follow: true },
    {},
  );
}

/** The log lines of a run, and whether every pass it started has ended. */
function logLines() {
  const lines: string[] = [];
  return {
    lines,
    log: (line: string) => lines.push(line),
    /** Passes whose end (`…: N key(s) compared`) was logged, for a reason matching `reason`. */
    passesDone: (reason: RegExp) =>
      lines.filter((l) => /reconciliation pass over .*: \d+ key\(s\) compared$/.test(l) && reason.test(l))
        .length,
  };
}

describe('--follow across a change of topology of the source', () => {
  it.each(['a standalone', 'a Cluster'] as const)(
    'a Cluster source resharded during the follow (slots migrated between masters), %s target: a pass, and verify is equal',
    async (kind) => {
      const [cluster, target] = await Promise.all([
        startCluster(3),
        kind === 'a Cluster' ? startCluster(3) : startRedis(),
      ]);
      const t = target.client();
      try {
        for (const node of cluster.nodes) {
          const admin = node.client();
          await admin.config('SET', 'notify-keyspace-events', 'KEA');
          admin.disconnect();
        }
        const c = cluster.client();
        for (let k = 0; k < 300; k++) await c.set(`seed:${k}`, `v${k}`);
        const backup = join(dir, `cluster-${kind === 'a Cluster' ? 'cluster' : 'standalone'}.journal`);
        const plan = planFor(cluster.url, target.url, backup);
        const out = logLines();
        // Writers through a Cluster client (MOVED and ASK followed by ioredis); RENAME across slots fails and is skipped.
        const writers = [17, 18].map((seed) => startWriter(c as unknown as Redis, { seed }));
        const stop = new AbortController();
        const run: Promise<JsonReport> = runMerge(plan, { signal: stop.signal, log: out.log });
        await sleep(1_500);
        // A reshard: the slots of keys the writers change move to the next master, keys and all.
        const slots = [...new Set(['str:1', 'hash:2', 'list:3', 'set:4', 'zset:5', 'seed:7'].map(slotOf))];
        const moved: [number, number][] = [];
        for (const slot of slots) {
          const from = await cluster.ownerOf(slot);
          const to = (from + 1) % cluster.nodes.length;
          await cluster.migrateSlot(slot, to, () => sleep(100));
          moved.push([slot, to]);
        }
        for (const [slot, to] of moved) expect(await cluster.ownerOf(slot)).toBe(to);
        await sleep(500);
        await Promise.all(writers.map((w) => w.stop()));
        // The watch sees the last layout within a second; its pass must be over before the stop.
        await sleep(1_500);
        await until(
          () =>
            out.passesDone(/changed its layout/) > 0 &&
            out.lines.filter((l) => l.includes('; reconciliation pass over')).length <=
              out.lines.filter((l) => /key\(s\) compared$/.test(l)).length,
          30_000,
          'the reconciliation pass after the reshard',
        );
        await c.set('marker:end', 'end');
        // Seconds of waiting in the follow's loop leave no listener behind on the signal (one per wait did).
        expect(getEventListeners(stop.signal, 'abort').length).toBeLessThan(10);
        await until(async () => (await t.exists('marker:end')) === 1, 20_000, 'the marker on the target');
        stop.abort();
        const report = await run;
        expect(report.outcome, out.lines.join('\n')).toBe('done');
        expect(report.follow?.failed).toBe(0);
        expect(report.follow?.refolded).toBeGreaterThan(0);
        expect(report.follow?.passes.some((p) => /changed its layout/.test(p.reason))).toBe(true);
        expect(out.lines.some((l) => l.includes('the cluster changed its layout'))).toBe(true);
        expect(writers.every((w) => w.sent > 100)).toBe(true);
        await verifyEqual(plan, backup);
      } finally {
        t.disconnect();
        await Promise.all([cluster.stop(), target.stop()]);
      }
    },
    120_000,
  );

  it('a Sentinel source failed over during the follow (writer following the master): a pass, and verify is equal', async () => {
    const [set, target] = await Promise.all([startSentinelSet(), startRedis()]);
    const t = target.client();
    const writerClient = new Redis({
      sentinels: set.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      name: MASTER_NAME,
      lazyConnect: true,
    });
    writerClient.on('error', () => {});
    try {
      // Every data server publishes: the replica promoted must too.
      for (const server of set.servers) {
        const admin = server.client();
        await admin.config('SET', 'notify-keyspace-events', 'KEA');
        admin.disconnect();
      }
      await writerClient.connect();
      for (let k = 0; k < 300; k++) await writerClient.set(`seed:${k}`, `v${k}`);
      await set.synced();
      const before = await set.currentMaster();
      const backup = join(dir, 'sentinel.journal');
      const plan = planFor(set.url(0), target.url, backup);
      const out = logLines();
      const writer = startWriter(writerClient, { seed: 23 });
      const stop = new AbortController();
      const run: Promise<JsonReport> = runMerge(plan, { signal: stop.signal, log: out.log });
      await sleep(1_500);
      const after = await set.failover();
      expect(after).not.toBe(before);
      await set.demoted(before);
      await sleep(1_000);
      await writer.stop();
      await sleep(1_500);
      await until(
        () =>
          out.passesDone(/./) > 0 &&
          out.lines.filter((l) => l.includes('; reconciliation pass over')).length <=
            out.lines.filter((l) => /key\(s\) compared$/.test(l)).length,
        30_000,
        'the reconciliation pass after the failover',
      );
      await writerClient.set('marker:end', 'end');
      await until(async () => (await t.exists('marker:end')) === 1, 20_000, 'the marker on the target');
      stop.abort();
      const report = await run;
      expect(report.outcome, out.lines.join('\n')).toBe('done');
      expect(report.follow?.failed).toBe(0);
      // The follow heard the failover: its subscription dropped (the sentinels kill the old master's
      // clients) or the master it reads has another run_id, and it made a pass for it.
      expect(
        report.follow?.passes.some((p) => /subscription .* dropped|run_id changed/.test(p.reason)),
        out.lines.join('\n'),
      ).toBe(true);
      expect(writer.sent).toBeGreaterThan(100);
      await verifyEqual(plan, backup);
    } finally {
      writerClient.disconnect();
      t.disconnect();
      await Promise.all([set.stop(), target.stop()]);
    }
  }, 180_000);
});
