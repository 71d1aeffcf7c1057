import { Redis } from 'ioredis';
import { BINARY_KEY, describeKey, fillShard, fillTarget, SHARD_NAMES, SHOWCASE } from '../demo/demo-data.js';
import {
  findRedisServer,
  type LocalRedis,
  RedisServerNotFoundError,
  redisServerName,
  startLocalRedis,
  stopAllLocalRedisSync,
} from '../demo/local-server.js';
import {
  type ConflictSample,
  formatSummary,
  type JsonReport,
  type MergePlan,
  resolvePlan,
  runMerge,
} from '../index.js';
import { createProgress } from '../report/progress.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { handleInterrupts, INTERRUPT_NOTICE } from './interrupt.js';
import { Output } from './output.js';
import { progressMode } from './watch.js';

export interface DemoOptions {
  /** false: plain status lines instead of bars (`--no-progress`). */
  progress?: boolean;
  out?: Output;
}

/** The strategies the demo shows off; every one of them has keys to act on in the sample data. */
const DEMO_CONFIG = {
  strategies: {
    default: 'skip',
    string: 'override',
    hash: 'merge',
    set: 'merge',
    zset: 'merge',
    list: 'merge',
    stream: 'skip',
  },
  typeMismatch: 'skip',
  merge: { zsetScore: 'max', list: 'append' },
  report: { sample: 100 },
};

class Interrupted extends Error {}

/**
 * `kvmerge demo`: starts three shard servers and a target on free loopback ports, fills them with
 * overlapping sample data, shows a dry run's conflict report, runs the merge with progress, shows a few
 * keys before and after, and stops every server (on success, error or Ctrl-C). It uses the library as
 * any program would: resolvePlan and runMerge.
 */
export async function runDemo(opts: DemoOptions = {}): Promise<number> {
  const out = opts.out ?? new Output();
  const say = (line = ''): void => out.result(line);
  if (findRedisServer() === undefined) {
    out.error(new RedisServerNotFoundError(redisServerName()).message);
    return EXIT.usage;
  }

  const interrupt = handleInterrupts({
    onFirst: () => out.error(INTERRUPT_NOTICE),
    onForce: () => {
      out.error('interrupted again: stopping the demo servers and exiting now');
      stopAllLocalRedisSync();
    },
  });
  const checkpoint = (): void => {
    if (interrupt.signal.aborted) throw new Interrupted();
  };
  const servers: LocalRedis[] = [];
  const clients: Redis[] = [];
  const connect = (server: LocalRedis): Redis => {
    const client = new Redis(server.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    clients.push(client);
    return client;
  };

  try {
    say('kvmerge demo: three shards of one application are folded into one target, on throwaway');
    say('local redis-server processes. Nothing outside this demo is touched.');
    say();
    say('1. Starting 3 shard servers and 1 target');
    const started = await Promise.allSettled(
      Array.from({ length: 4 }, () => startLocalRedis({ stopOnSignals: false })),
    );
    for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const shards = servers.slice(0, 3);
    const target = servers[3]!;
    for (const [i, s] of shards.entries()) say(`   ${SHARD_NAMES[i]}  ${s.url}`);
    say(`   target   ${target.url}`);
    checkpoint();

    say();
    say('2. Filling them with overlapping sample data (hashes, sets, zsets, lists, strings with TTLs,');
    say('   a stream, a type mismatch and a binary key)');
    const shardClients = shards.map(connect);
    const targetClient = connect(target);
    await Promise.all([...shardClients.map((c, i) => fillShard(c, i)), fillTarget(targetClient)]);
    for (const [i, c] of shardClients.entries())
      say(`   ${SHARD_NAMES[i]}  ${groupDigits(await c.dbsize())} keys`);
    say(`   target   ${groupDigits(await targetClient.dbsize())} keys already there`);
    const before = await snapshot([...shardClients, targetClient]);
    checkpoint();

    const doc = {
      ...DEMO_CONFIG,
      sources: shards.map((s, i) => ({ url: s.url, name: SHARD_NAMES[i] })),
      target: { url: target.url },
    };
    say();
    say('3. Dry run: what would happen, without writing anything');
    say('   strategies: string override, hash/set/zset/list merge (zset score: max, list: append),');
    say('   stream skip, type mismatch skip');
    const dry = await run(resolvePlan(doc, { dryRun: true }), opts, interrupt.signal, out);
    say(indent(formatSummary(dry, { color: out.stdoutIsColorTty() })));
    say('   sample conflicts:');
    for (const c of pickSamples(dry.conflicts.sample)) say(`     ${formatConflict(c)}`);
    if (dry.outcome !== 'done') return finish(dry, out);

    say();
    say('4. The merge');
    const real = await run(resolvePlan(doc), opts, interrupt.signal, out);
    say(indent(formatSummary(real, { color: out.stdoutIsColorTty() })));
    if (real.outcome !== 'done') return finish(real, out);

    say();
    say('5. Before and after');
    const after = await snapshot([targetClient]);
    for (const [k, { key, why }] of SHOWCASE.entries()) {
      say(`   ${key}: ${why}`);
      for (const [i, name] of SHARD_NAMES.entries()) say(`     ${name.padEnd(14)} ${before[k]![i]}`);
      say(`     ${'target before'.padEnd(14)} ${before[k]![3]}`);
      say(`     ${'target after'.padEnd(14)} ${after[k]![0]}`);
    }
    const binary = await targetClient.getBuffer(BINARY_KEY);
    say(
      `   ${showBytes(BINARY_KEY)} (a binary key): ${binary ? showBytes(binary) : '(absent)'} on the target`,
    );
    say();
    say('Try it on your own instances: kvmerge -s URL -s URL -t URL --hash merge --dry-run');
    return EXIT.done;
  } catch (err) {
    if (err instanceof Interrupted) return interrupt.exitCode;
    throw err;
  } finally {
    interrupt.dispose();
    for (const c of clients) c.disconnect();
    if (servers.length > 0) say('Stopping the demo servers.');
    await Promise.all(servers.map((s) => s.stop()));
  }
}

async function run(
  plan: MergePlan,
  opts: DemoOptions,
  signal: AbortSignal,
  out: Output,
): Promise<JsonReport> {
  const progress = await createProgress({
    stream: process.stderr,
    mode: progressMode({ quiet: false, progress: opts.progress ?? true, json: false, verbose: false }),
  });
  try {
    return await runMerge(plan, { progress, signal, log: (line) => out.info(`   ${line}`) });
  } finally {
    progress.stop();
  }
}

function finish(report: JsonReport, out: Output): number {
  out.error(
    report.outcome === 'interrupted'
      ? 'demo interrupted'
      : `demo run ${report.outcome}: ${report.error ?? ''}`,
  );
  return exitCodeFor(report, { dryRun: false, failOnConflict: false });
}

/** The showcase keys as each server holds them: snapshot[k][i] for SHOWCASE[k] on client i. */
async function snapshot(clients: Redis[]): Promise<string[][]> {
  return Promise.all(SHOWCASE.map(({ key }) => Promise.all(clients.map((c) => describeKey(c, key)))));
}

/** A few conflicts, one per distinct action and type where possible, so the sample says something. */
function pickSamples(sample: ConflictSample[], n = 6): ConflictSample[] {
  const seen = new Set<string>();
  const picked: ConflictSample[] = [];
  for (const c of sample) {
    const kind = `${c.sourceType}/${c.targetType}/${c.action}`;
    if (!seen.has(kind)) {
      seen.add(kind);
      picked.push(c);
    }
  }
  for (const c of sample) if (picked.length < n && !picked.includes(c)) picked.push(c);
  return picked.slice(0, n);
}

function formatConflict(c: ConflictSample): string {
  const key = c.key ?? `base64:${c.keyBase64}`;
  return `${key.padEnd(20)} from ${c.source}: ${c.sourceType} onto ${c.targetType} → ${c.action}`;
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => (l ? `   ${l}` : l))
    .join('\n');
}

/** Printable ASCII as is, every other byte (and the backslash) as \\xHH. */
function showBytes(bytes: Buffer): string {
  return [...bytes]
    .map((b) =>
      b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
