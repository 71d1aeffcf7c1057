/**
 * A Sentinel failover that lands while a run is going, on a busy machine (issue 15, SPEC §6.6): the run
 * must either end with every counted step on the master that survives, or not exit 0. Run as an
 * operator would: the CLI, a `redis+sentinel://` target, `SENTINEL FAILOVER` sent shortly after the run
 * starts, and a CPU-bound process beside it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonReport } from '../../src/index.js';
import { kvmerge } from '../harness/cli-run.js';
import { seedAll } from '../harness/data.js';
import { differences, type FailoverPlan, failoverLayout, writePlanConfig } from '../harness/failover-plan.js';
import { type RedisServer, startRedis } from '../harness/redis.js';
import { type SentinelSet, startSentinelSet } from '../harness/sentinel.js';

let sentinel: SentinelSet;
let source: RedisServer;

beforeAll(async () => {
  [sentinel, source] = await Promise.all([startSentinelSet(), startRedis()]);
}, 90_000);

afterAll(async () => {
  await Promise.all([sentinel?.stop(), source?.stop()]);
});

/** Lists on both sides (appended), lists only on the source (created), zsets on both (summed), strings. */
const SCALE = Number(process.env.KVMERGE_FAILOVER_SCALE ?? 1);
const LISTS = 6_000 * SCALE;
const LISTS_ON_TARGET = 4_000 * SCALE;
const ZSETS = 1_500 * SCALE;
const STRINGS = 1_500 * SCALE;
const RUNS = Number(process.env.KVMERGE_FAILOVER_RUNS ?? 10);

const PLAN: FailoverPlan = { lists: LISTS, listsOnTarget: LISTS_ON_TARGET, zsets: ZSETS, strings: STRINGS };
const LAYOUT = failoverLayout(PLAN);

/** A CPU-bound process for at most `ms` (a shared host's neighbour), stopped by the test. */
function busyCpu(ms: number): ChildProcess {
  return spawn(process.execPath, ['-e', `const end = Date.now() + ${ms}; while (Date.now() < end) {}`], {
    stdio: 'ignore',
  });
}

describe('a Sentinel failover during a run, on a busy machine', () => {
  it(`ends exact on the master that survives, or does not exit 0 (${RUNS} runs)`, async () => {
    const outcomes: string[] = [];
    const config = await writePlanConfig();
    for (let run = 0; run < RUNS; run++) {
      const [target, src] = [await sentinel.master(), source.client()];
      await Promise.all([target.flushall(), src.flushall()]);
      await seedAll({ t: target, s: [src] }, LAYOUT);
      await sentinel.synced();
      const before = await sentinel.currentMaster();
      const busy = busyCpu(120_000);
      let failover: Promise<RedisServer> | undefined;
      const cli = await kvmerge(
        [
          '-s',
          source.url,
          '-t',
          sentinel.url(0),
          '-c',
          config,
          '--json',
          '--no-progress',
          // The same plan of appends and sums each time, on purpose (the default journal refuses a rerun).
          '--again',
          ...(SCALE === 1 ? ['--batch', '64', '--concurrency', '2'] : []),
        ],
        {
          journal: '/nonexistent',
          afterMs: 300,
          reached: () => {
            failover = sentinel.failover();
          },
        },
      );
      busy.kill('SIGKILL');
      expect(failover, 'the run ended before the failover was sent').toBeDefined();
      const after = await failover!;
      expect(after).not.toBe(before);
      await sentinel.demoted(before);
      await sentinel.synced();
      const master = await sentinel.master();
      const diff = await differences(master, PLAN);
      master.disconnect();
      const report = cli.stdout ? (JSON.parse(cli.stdout) as JsonReport) : undefined;
      outcomes.push(
        `run ${run}: exit ${cli.code}, ${diff.count} keys differ${diff.first.length ? ` (${diff.first.join(', ')})` : ''}` +
          (report ? `, totals ${JSON.stringify(report.totals)}` : '') +
          (cli.code === 0 ? '' : `, ${cli.stderr.trim().split('\n').at(-1)}`),
      );
      // The promise: never exit 0 with a counted step missing on the master that survives.
      if (cli.code === 0) expect(diff, outcomes.join('\n')).toEqual({ count: 0, first: [] });
    }
    console.log(outcomes.join('\n'));
    // And exact every time: a failover is not a reason to fail the run.
    expect(
      outcomes.filter((o) => !/exit 0, 0 keys differ/.test(o)),
      outcomes.join('\n'),
    ).toEqual([]);
  }, 1_800_000);
});
