/**
 * `npm run bench`: kvmerge side by side with Redis's own MIGRATE and with the target's RESTORE ceiling,
 * on throwaway local servers and generated data (SPEC §8). `npm run bench -- --help` lists the options.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { type LocalRedis, startLocalRedis } from '../src/demo/local-server.js';
import { startBenchCluster } from './cluster.js';
import {
  type BenchContext,
  DEFAULT_BATCH,
  DEFAULT_CONCURRENCY,
  LABELS,
  measureStartup,
  type Outcome,
  prepareRestoreFiles,
  type ResolvedRunner,
  runContender,
} from './contenders.js';
import { type Dataset, generateDataset } from './dataset.js';
import { describeMachine } from './machine.js';
import { BENCH_TYPES, type BenchOptions, benchStart, type ContenderName, parseOptions } from './options.js';
import { redisCliPath } from './pipe.js';
import { projectionLines } from './projection.js';
import { rssMethod } from './rss.js';
import { markdownTable, textTable } from './table.js';

/** Masters of the target under --cluster. */
const CLUSTER_MASTERS = 3;

const here = path.dirname(fileURLToPath(import.meta.url));

/** The package root: the first directory above this module that holds package.json. */
function packageRoot(): string {
  let dir = here;
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`no package.json above ${here}`);
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** The CLI when it is built and answers --version; else the library entry (bench/child.ts). */
function resolveRunner(opts: BenchOptions, root: string): { runner: ResolvedRunner; why?: string } {
  const bin = path.join(root, 'bin', 'kvmerge.js');
  const child: ResolvedRunner = { kind: 'child', entry: path.join(here, 'child.js') };
  if (opts.runner === 'child') return { runner: child };
  const probe = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 30_000 });
  const works = probe.status === 0;
  if (works) return { runner: { kind: 'cli', bin } };
  const why = (probe.stderr || probe.stdout || String(probe.error ?? ''))
    .trim()
    .split('\n')
    .slice(0, 3)
    .join(' ');
  if (opts.runner === 'cli') throw new Error(`--runner cli: node bin/kvmerge.js --version failed: ${why}`);
  return { runner: child, why: `the CLI does not run yet (${why.slice(0, 200)})` };
}

function pct(n: number): string {
  return `${Math.round(n * 100)}%`;
}

function header(
  opts: BenchOptions,
  ctx: { runner: ResolvedRunner; version: string; server: string },
): string {
  const m = describeMachine(ctx.server);
  const mix = BENCH_TYPES.filter((t) => opts.mix[t] > 0)
    .map((t) => `${t} ${pct(opts.mix[t])}`)
    .join(', ');
  const data = [`${opts.sources} source(s)`];
  if (opts.cluster) data.unshift(`target: a ${CLUSTER_MASTERS}-master Redis Cluster;`);
  if (opts.keys > 0) {
    data.push(
      `x ${opts.keys.toLocaleString('en-US')} keys, dataset ${opts.dataset} (${mix}; strings ~${opts.valueBytes} B, ` +
        `collections ~${opts.elements} elements of ~${opts.memberBytes} B)`,
    );
  }
  if (opts.bigMb > 0) {
    data.push(
      `${opts.keys > 0 ? '+' : 'x'} one ${opts.bigTypes.join(', ')} of ~${opts.bigMb} MB each ` +
        `(elements ~${opts.memberBytes} B)`,
    );
  }
  return [
    `kvmerge benchmark${opts.quick ? ' (--quick: a smoke run, the numbers mean little)' : ''}${opts.bigMb ? ' (--big)' : ''}`,
    `machine: ${m.cpu}, ${m.cores} cores, ${(m.ramGb).toFixed(1)} GiB RAM, ${m.os}`,
    `software: node ${m.node}, redis-server ${m.redis}, kvmerge ${ctx.version} ` +
      `(${ctx.runner.kind === 'cli' ? 'CLI bin/kvmerge.js' : 'library via bench/child.js'}), peak RSS by ${rssMethod()}`,
    `data: ${data.join(' ')}`,
    `kvmerge: --concurrency ${opts.concurrency ?? `${DEFAULT_CONCURRENCY} (default)`}, --batch ${opts.batch ?? `${DEFAULT_BATCH} (default)`}; ` +
      `${opts.repeat > 1 ? `median of ${opts.repeat} interleaved rounds; ` : ''}` +
      `servers: --save '' --appendonly no, all on this machine`,
  ].join('\n');
}

function describeDataset(d: Dataset): string {
  const types = BENCH_TYPES.filter((t) => d.byType[t] > 0)
    .map((t) => `${t} ${d.byType[t].toLocaleString('en-US')}`)
    .join(', ');
  const elements = d.perSource.reduce((sum, s) => sum + s.elements, 0);
  return (
    `dataset: ${d.keys.toLocaleString('en-US')} keys (${types}), ${elements.toLocaleString('en-US')} collection ` +
    `elements, ${(d.bytes / 1e6).toFixed(1)} MB payload; generated in ${(d.generateMs / 1000).toFixed(1)} s`
  );
}

const LEGEND = `MB: payload bytes (10^6) = key names + string values + hash fields and values + set/list/zset members
+ 8 B per zset score, the same for every contender; MB/s = MB / wall s. wall s: process start to exit for
kvmerge (node start-up and connecting included), the bare copy and redis-cli --pipe, the client loop for
MIGRATE. peak RSS: of the kvmerge process (max resident set size), of the bare copy's, of redis-cli for
the ceiling; MIGRATE runs in the servers. × MIGRATE, × ceiling: the row's keys/s over theirs (above 1:
faster). The bare copy: kvmerge's probe script and RESP code and nothing else, the floor of a client here.`;

/**
 * One outcome for the table from several rounds: the first failure if any round failed, else the
 * round with the median wall time, with the largest peak RSS of all rounds and every wall time in a note.
 */
function median(rounds: Outcome[]): Outcome {
  const failed = rounds.find((o) => o.error);
  if (failed || rounds.length === 1) return failed ?? rounds[0]!;
  const sorted = [...rounds].sort((a, b) => a.wallMs - b.wallMs);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const peaks = rounds.flatMap((o) => (o.peakRssKb === undefined ? [] : [o.peakRssKb]));
  const walls = rounds.map((o) => (o.wallMs / 1000).toFixed(2)).join(', ');
  const out: Outcome = {
    ...mid,
    notes: [`median of ${rounds.length} rounds, wall s ${walls}`, ...mid.notes],
  };
  if (peaks.length > 0) out.peakRssKb = Math.max(...peaks);
  return out;
}

async function main(argv: string[]): Promise<number> {
  // The live merge's benchmark is a run of its own (bench/follow.ts).
  if (argv.includes('--follow')) return (await import('./follow.js')).benchFollow(argv);
  // So is RDB files as sources (bench/rdb-source.ts): --quick alone never reaches it.
  if (argv.includes('--rdb')) return (await import('./rdb-source.js')).benchRdb(argv);
  const start = benchStart(argv, parseOptions);
  if (typeof start === 'number') return start;
  const { opts, server } = start;
  const root = packageRoot();
  const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string })
    .version;
  const { runner, why } = resolveRunner(opts, root);
  if (why) log(`running kvmerge through bench/child.js: ${why}`);

  const dir = mkdtempSync(path.join(tmpdir(), 'kvmerge-bench-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  // kvmerge's state directory (its default journals, the rerun guard) for the runs it starts: not $HOME's.
  process.env.KVMERGE_STATE_DIR = path.join(dir, 'state');
  process.on('exit', removeDir);
  const servers: LocalRedis[] = [];
  const clients: Redis[] = [];
  const clusterClients: Cluster[] = [];
  try {
    const args = ['--loglevel', 'warning'];
    log(
      `starting ${opts.sources} source redis-server processes and ${opts.cluster ? `a ${CLUSTER_MASTERS}-master cluster` : 'one'} ` +
        `as the target (${server}, ${redisCliPath()})`,
    );
    const sources = await Promise.all(Array.from({ length: opts.sources }, () => startLocalRedis({ args })));
    servers.push(...sources);
    const targetNodes = opts.cluster
      ? await startBenchCluster(CLUSTER_MASTERS, args)
      : [await startLocalRedis({ args })];
    servers.push(...targetNodes);
    const target = targetNodes[0]!;
    const client = (s: LocalRedis): Redis => {
      const redis = new Redis({ host: s.host, port: s.port, lazyConnect: false });
      clients.push(redis);
      return redis;
    };
    const sourceClients = sources.map(client);
    const nodeClients = targetNodes.map(client);
    let targetClient: Redis | Cluster = nodeClients[0]!;
    if (opts.cluster) {
      const cluster = new Cluster(targetNodes.map((node) => ({ host: node.host, port: node.port })));
      clusterClients.push(cluster);
      targetClient = cluster;
    }

    log('generating the dataset');
    const dataset = await generateDataset(
      {
        sources: opts.sources,
        keys: opts.keys,
        mix: opts.mix,
        valueBytes: opts.valueBytes,
        memberBytes: opts.memberBytes,
        elements: opts.elements,
        bigMb: opts.bigMb,
        bigTypes: opts.bigTypes,
        seed: opts.seed,
      },
      sources.map((s) => s.port),
    );
    for (const [i, s] of dataset.perSource.entries()) {
      const size = await sourceClients[i]!.dbsize();
      if (size !== s.keys)
        throw new Error(`source ${i + 1} holds ${size} keys after loading, expected ${s.keys}`);
    }
    log(describeDataset(dataset));

    const ctx: BenchContext = {
      opts,
      dir,
      runner,
      sources,
      target,
      sourceClients,
      targetClient,
      targetNodes: nodeClients,
      dataset,
    };
    if (opts.only.some((name) => name === 'merge' || name === 'dry' || name === 'ceiling')) {
      log('pre-dumping RESTORE commands (not timed)');
      ctx.restore = await prepareRestoreFiles(ctx);
    }

    if (opts.only.some((name) => name !== 'migrate' && name !== 'ceiling' && name !== 'bare')) {
      log("measuring kvmerge's start-up over empty databases (for the separate-hosts projection)");
      ctx.startup = await measureStartup(ctx);
    }

    // Rounds are interleaved (every contender once, then again) so that a slow spell of a shared
    // machine hits them all alike; each contender's median round goes in the table.
    const rounds = new Map<ContenderName, Outcome[]>(opts.only.map((name) => [name, []]));
    for (let round = 1; round <= opts.repeat; round++) {
      for (const name of opts.only) {
        const tag = opts.repeat > 1 ? ` (round ${round}/${opts.repeat})` : '';
        log(`running ${LABELS[name]}${tag}`);
        const outcome = await runContender(ctx, name);
        rounds.get(name)!.push(outcome);
        if (outcome.error) log(`${LABELS[name]} FAILED: ${outcome.error}`);
        else log(`${LABELS[name]}: ${(outcome.wallMs / 1000).toFixed(2)} s`);
      }
    }
    const outcomes = opts.only.map((name) => median(rounds.get(name)!));

    const notes = outcomes.flatMap((o) => o.notes.map((n) => `  ${o.label}: ${n}`));
    const failures = outcomes.filter((o) => o.error);
    const out = [
      '',
      header(opts, { runner, version, server }),
      describeDataset(dataset),
      '',
      textTable(outcomes),
      '',
      ...(notes.length ? ['notes:', ...notes, ''] : []),
      ...projectionLines(
        outcomes,
        dataset.perSource.map((s) => s.keys),
        ctx.startup,
      ),
      LEGEND,
      '',
      'markdown:',
      '',
      markdownTable(outcomes),
      '',
    ];
    if (failures.length > 0) {
      out.push('FAILED:', ...failures.map((o) => `  ${o.label}: ${o.error}`), '');
    }
    process.stdout.write(out.join('\n'));
    return failures.length > 0 ? 1 : 0;
  } finally {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    for (const c of clusterClients) c.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
    removeDir();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
