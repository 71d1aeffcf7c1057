/**
 * The data of the failover-confirmation tests (issue 15): steps that a lost write shows at once. Lists on
 * both sides (appended: target's element first), lists only on the source (created), zsets on both
 * (scores summed), strings only on the source (created), big hashes on both (overridden, each streamed
 * whole where the plan asks for some). Written through ioredis, so the same code seeds
 * and reads a standalone server and a Cluster (its commands are routed per key).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import { hash, type Keys, list, str, type Value, zset } from './data.js';

export interface FailoverPlan {
  lists: number;
  listsOnTarget: number;
  zsets: number;
  strings: number;
  /** Big hashes on both sides (overridden: each streamed whole as one DUMP payload into one RESTORE). */
  bigHashes?: number;
}

/** A big hash's fields: over the plan's bigKeyBytes (100,000) by far, a payload of about 3 MB. */
const BIG_FIELDS = 60_000;
const bigField = (n: number): [string, string] => [`f${n}`, `v${n}-${'x'.repeat(30)}`];

type Client = Redis | Cluster;

const CHUNK = 500;

/** Runs `each(i)` for i in [0, n) with at most CHUNK commands in flight. */
async function inChunks<T>(n: number, each: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += CHUNK) {
    const ids = Array.from({ length: Math.min(CHUNK, n - i) }, (_, k) => i + k);
    out.push(...(await Promise.all(ids.map(each))));
  }
  return out;
}

/**
 * A config file with the plan's strategies (zsetScore has no flag): list append, zset sum, override;
 * for a plan with big hashes, hashes overridden and big over 100,000 bytes.
 */
export async function writePlanConfig(plan?: FailoverPlan): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'kvmerge-confirm-')), 'plan.yaml');
  const big = (plan?.bigHashes ?? 0) > 0;
  await writeFile(
    path,
    `version: 1\nstrategies: {list: merge, zset: merge, string: override${big ? ', hash: override' : ''}}\n` +
      `merge: {zsetScore: sum}\n${big ? 'write: {bigKeyBytes: 100000}\n' : ''}`,
  );
  return path;
}

/** The plan's data: the target's keys and the one source's. */
export function failoverLayout(plan: FailoverPlan): { target: Keys; sources: [Keys] } {
  const target: Record<string, Value> = {};
  const source: Record<string, Value> = {};
  for (let j = 0; j < plan.lists; j++) {
    if (j < plan.listsOnTarget) target[`l:${j}`] = list('base');
    source[`l:${j}`] = list(`a${j}`, `b${j}`);
  }
  for (let j = 0; j < plan.zsets; j++) {
    target[`z:${j}`] = zset(['m', 1], ['only-target', 10]);
    source[`z:${j}`] = zset(['m', 2], ['only-source', 5]);
  }
  for (let j = 0; j < plan.strings; j++) source[`s:${j}`] = str(`v${j}`);
  for (let j = 0; j < (plan.bigHashes ?? 0); j++) {
    target[`bh:${j}`] = hash({ old: 'target' });
    source[`bh:${j}`] = hash(Array.from({ length: BIG_FIELDS }, (_, n) => bigField(n)));
  }
  return { target, sources: [source] };
}

/** How the server `reader` differs from the merge's result: the count, and the first few as `key=found`. */
export async function differences(
  reader: Client,
  plan: FailoverPlan,
): Promise<{ count: number; first: string[] }> {
  const wrong: string[] = [];
  const check = (key: string, found: unknown, want: unknown): void => {
    if (JSON.stringify(found) !== JSON.stringify(want)) wrong.push(`${key}=${JSON.stringify(found)}`);
  };
  const lists = await inChunks(plan.lists, (j) => reader.lrange(`l:${j}`, 0, -1));
  for (const [j, found] of lists.entries()) {
    check(`l:${j}`, found, j < plan.listsOnTarget ? ['base', `a${j}`, `b${j}`] : [`a${j}`, `b${j}`]);
  }
  const zsets = await inChunks(plan.zsets, (j) => reader.zrange(`z:${j}`, 0, -1, 'WITHSCORES'));
  for (const [j, found] of zsets.entries()) {
    check(`z:${j}`, found, ['m', '3', 'only-source', '5', 'only-target', '10']);
  }
  const strings = await inChunks(plan.strings, (j) => reader.get(`s:${j}`));
  for (const [j, found] of strings.entries()) check(`s:${j}`, found, `v${j}`);
  for (let j = 0; j < (plan.bigHashes ?? 0); j++) {
    const [fields, sample, old] = await Promise.all([
      reader.hlen(`bh:${j}`),
      reader.hget(`bh:${j}`, 'f12345'),
      reader.hexists(`bh:${j}`, 'old'),
    ]);
    check(`bh:${j}`, [fields, sample, old], [BIG_FIELDS, bigField(12345)[1], 0]);
  }
  return { count: wrong.length, first: wrong.slice(0, 5) };
}

/** Polls `check` every 100 ms until it holds, for at most `ms`. */
export async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `replica` replicates `master` (on `port`) with its link up and has caught up with it. */
export async function caughtUp(replica: Redis, master: Redis, port: number): Promise<boolean> {
  const info = await replica.info('replication');
  if (!info.includes(`master_port:${port}`) || !info.includes('master_link_status:up')) return false;
  const masterOffset = /master_repl_offset:(\d+)/.exec(await master.info('replication'))?.[1];
  return /slave_repl_offset:(\d+)/.exec(info)?.[1] === masterOffset;
}
