import { parseArgs } from 'node:util';
import { CONFIG_DEFAULTS } from '../src/config/schema.js';
import { findRedisServer } from '../src/demo/local-server.js';

/** The data types the generator writes, in table order. */
export const BENCH_TYPES = ['string', 'hash', 'set', 'zset', 'list'] as const;
export type BenchType = (typeof BENCH_TYPES)[number];

/** The contenders, in the order they run and appear in the table. */
export const CONTENDERS = [
  'copy',
  'backup',
  'dump',
  'native',
  'merge',
  'dry',
  'bare',
  'migrate',
  'ceiling',
] as const;
export type ContenderName = (typeof CONTENDERS)[number];
/** The contenders that can write into a cluster target (the others address one node). */
export const CLUSTER_CONTENDERS: readonly ContenderName[] = ['copy', 'backup', 'dump', 'native'];

export type Runner = 'auto' | 'cli' | 'child';

/**
 * The datasets: `small` is what shards mostly hold (strings of ~40 bytes, collections of 3-4 short
 * members), the default; `large` has values of ~100 bytes and collections of ~10 elements of ~100 bytes
 * (keys of ~670 bytes on average), where per-byte costs weigh more than per-key ones.
 */
export const DATASETS = {
  small: { valueBytes: 40, memberBytes: 12, elements: 4 },
  large: { valueBytes: 100, memberBytes: 100, elements: 10 },
} as const;
export type DatasetName = keyof typeof DATASETS;

export interface BenchOptions {
  sources: number;
  /** Small keys per source. */
  keys: number;
  /** Share of each type among the small keys (sums to 1). */
  mix: Record<BenchType, number>;
  /** The named dataset the sizes below come from (`small`, the default, or `large`). */
  dataset: DatasetName;
  /** Mean size of a string value, in bytes (varies ±50%). */
  valueBytes: number;
  /** Mean size of a collection element (hash value, member, list element), in bytes (varies ±50%). */
  memberBytes: number;
  /** Mean number of elements of a small collection (varies ±50%). */
  elements: number;
  /** Per source: one hash, set, zset and list of about this many MB (10^6 bytes) each; 0 = none. */
  bigMb: number;
  /** The big keys' types (default all four). */
  bigTypes: BigType[];
  quick: boolean;
  /** The target is a 3-master Redis Cluster (only the kvmerge copy contenders can run into it). */
  cluster: boolean;
  only: ContenderName[];
  /** Passed to kvmerge as --concurrency; undefined = kvmerge's default. */
  concurrency?: number;
  /** Passed to kvmerge as --batch; also the MIGRATE loop's keys per call (default 256, kvmerge's default). */
  batch?: number;
  runner: Runner;
  seed: number;
  /** Rounds over every contender (interleaved); the table shows each one's median round. */
  repeat: number;
  /** Write a V8 CPU profile of every kvmerge process into this directory (node --cpu-prof). */
  profileDir?: string;
}

/** The types a big key of the dataset can have. */
export const BIG_TYPES = ['hash', 'set', 'zset', 'list'] as const;
export type BigType = (typeof BIG_TYPES)[number];

export const USAGE = `Usage: npm run bench -- [options]

Starts its own redis-server processes, generates a dataset on the sources and times, on the same data:
  copy     kvmerge --no-backup (auto mode) into an empty target: the copy without its journal
  backup   the same copy with the default journal of prior states (made durable before each write)
  dump     kvmerge --mode dump into an empty target
  native   kvmerge --mode native into an empty target
  merge    kvmerge, hash/set/zset/list merge and string override, into a target holding half the keys
  dry      the same merge as a --dry-run (the target is left as it was)
  bare     a bare pipelined copy with kvmerge's probe script and RESP code and nothing else: the
           floor of any client on this machine (bench/bare-copy.ts; small keys only, not with --big)
  migrate  Redis's own MIGRATE ... COPY REPLACE KEYS over SCAN batches, one source after the other
  ceiling  pre-dumped RESTORE ... REPLACE commands replayed with redis-cli --pipe

Options:
  --sources N        source instances (default 3; 2 with --quick, 1 with --big)
  --keys N           small keys per source (default 100000; 5000 with --quick; 0 with --big)
  --mix SPEC         type shares, e.g. string=40,hash=15,set=15,zset=15,list=15 (the default)
  --dataset NAME     small (default: strings ~40 B, collections of ~4 members of ~12 B) or
                     large (strings ~100 B, collections of ~10 elements of ~100 B)
  --value-bytes N    mean string value size in bytes (overrides the dataset's)
  --member-bytes N   mean collection element size in bytes (overrides the dataset's)
  --elements N       mean elements per small collection (overrides the dataset's)
  --quick            small and fast (CI): 2 sources x 5000 keys; no timing assertions
  --cluster          the target is a 3-master Redis Cluster; runs copy, backup, dump and native only
                     (MIGRATE and the redis-cli ceiling address one node)
  --big              per source one hash, set, zset and list of --big-mb MB each
  --big-mb N         size of each big key in MB (default 500)
  --big-types a,b    only these big keys (hash, set, zset, list; default all four)
  --only a,b         run only these contenders (${CONTENDERS.join(', ')})
  --concurrency N    kvmerge --concurrency
  --batch N          kvmerge --batch, and keys per MIGRATE call (default ${CONFIG_DEFAULTS.write.batchSize})
  --runner R         how kvmerge runs: cli (bin/kvmerge.js), child (bench/child.js, the library), auto
  --repeat N         run every contender N times, round-robin, and report the median (default 1)
  --seed N           data generator seed (default 1)
  --profile DIR      write a CPU profile of each kvmerge run to DIR (node --cpu-prof; open in Chrome DevTools)
  -h, --help

  --rdb              instead: kvmerge with the sources SAVEd to RDB files, beside the same data from the
                     live servers and redis-server loading the files (bench/rdb-source.ts); takes --keys,
                     --sources, --seed, the dataset options, --concurrency and --batch
  --follow           instead: the live merge (bench/follow.ts)`;

export class UsageError extends Error {}

function positive(name: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min) {
    throw new UsageError(`--${name} ${JSON.stringify(text)}: expected an integer >= ${min}`);
  }
  return Number(text);
}

function parseMix(text: string): Record<BenchType, number> {
  const weights: Record<BenchType, number> = { string: 0, hash: 0, set: 0, zset: 0, list: 0 };
  for (const part of text.split(',')) {
    const m = /^\s*([a-z]+?)s?\s*[=:]\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(part);
    const type = m?.[1] as BenchType | undefined;
    if (!m || !type || !BENCH_TYPES.includes(type)) {
      throw new UsageError(`--mix: cannot read ${JSON.stringify(part)}; expected e.g. string=40,hash=15`);
    }
    weights[type] = Number(m[2]);
  }
  const total = BENCH_TYPES.reduce((sum, t) => sum + weights[t], 0);
  if (total <= 0) throw new UsageError('--mix: the shares add up to 0');
  for (const t of BENCH_TYPES) weights[t] /= total;
  return weights;
}

/** Parses the benchmark's command line; returns undefined after printing --help. */
export function parseOptions(argv: string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      sources: { type: 'string' },
      keys: { type: 'string' },
      mix: { type: 'string' },
      dataset: { type: 'string' },
      'value-bytes': { type: 'string' },
      'member-bytes': { type: 'string' },
      elements: { type: 'string' },
      quick: { type: 'boolean' },
      cluster: { type: 'boolean' },
      big: { type: 'boolean' },
      'big-mb': { type: 'string' },
      'big-types': { type: 'string' },
      only: { type: 'string' },
      concurrency: { type: 'string' },
      batch: { type: 'string' },
      runner: { type: 'string' },
      seed: { type: 'string' },
      repeat: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const quick = values.quick ?? false;
  const big = values.big ?? false;
  const cluster = values.cluster ?? false;
  const only = (values.only ?? (cluster ? CLUSTER_CONTENDERS : CONTENDERS).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of only) {
    if (!CONTENDERS.includes(name as ContenderName)) {
      throw new UsageError(
        `--only: unknown contender ${JSON.stringify(name)}; known: ${CONTENDERS.join(', ')}`,
      );
    }
  }
  // The bare copy leaves values over one payload behind: it has nothing to time with --big.
  if (big && values.only === undefined) only.splice(only.indexOf('bare'), 1);
  if (big && only.includes('bare'))
    throw new UsageError('--only bare cannot run with --big: small keys only');
  const unfit = only.filter((name) => cluster && !CLUSTER_CONTENDERS.includes(name as ContenderName));
  if (unfit.length > 0) {
    throw new UsageError(
      `--only ${unfit.join(',')} cannot run with --cluster; it can: ${CLUSTER_CONTENDERS.join(', ')}`,
    );
  }
  const runner = values.runner ?? 'auto';
  if (runner !== 'auto' && runner !== 'cli' && runner !== 'child') {
    throw new UsageError(`--runner ${JSON.stringify(runner)}: expected cli, child or auto`);
  }
  const dataset = (values.dataset ?? 'small') as DatasetName;
  if (!(dataset in DATASETS)) {
    throw new UsageError(
      `--dataset ${JSON.stringify(dataset)}: expected ${Object.keys(DATASETS).join(' or ')}`,
    );
  }
  const sizes = DATASETS[dataset];
  const bigMb = big ? (positive('big-mb', values['big-mb']) ?? 500) : 0;
  if (!big && values['big-mb'] !== undefined) throw new UsageError('--big-mb needs --big');
  if (!big && values['big-types'] !== undefined) throw new UsageError('--big-types needs --big');
  const bigTypes = (values['big-types'] ?? BIG_TYPES.join(',')).split(',') as BigType[];
  const unknown = bigTypes.filter((t) => !BIG_TYPES.includes(t));
  if (unknown.length > 0 || bigTypes.length === 0)
    throw new UsageError(`--big-types: ${unknown.join(', ') || 'none'}: choose from ${BIG_TYPES.join(', ')}`);
  const options: BenchOptions = {
    sources: positive('sources', values.sources) ?? (big ? 1 : quick ? 2 : 3),
    keys: positive('keys', values.keys, 0) ?? (big ? 0 : quick ? 5000 : 100_000),
    mix: parseMix(values.mix ?? 'string=40,hash=15,set=15,zset=15,list=15'),
    dataset,
    valueBytes: positive('value-bytes', values['value-bytes']) ?? sizes.valueBytes,
    memberBytes: positive('member-bytes', values['member-bytes']) ?? sizes.memberBytes,
    elements: positive('elements', values.elements) ?? sizes.elements,
    bigMb,
    bigTypes,
    quick,
    cluster,
    only: CONTENDERS.filter((c) => only.includes(c)),
    runner,
    seed: positive('seed', values.seed, 0) ?? 1,
    repeat: positive('repeat', values.repeat) ?? 1,
  };
  const concurrency = positive('concurrency', values.concurrency);
  const batch = positive('batch', values.batch);
  if (concurrency !== undefined) options.concurrency = concurrency;
  if (batch !== undefined) options.batch = batch;
  if (values.profile !== undefined) options.profileDir = values.profile;
  if (options.keys === 0 && options.bigMb === 0) throw new UsageError('--keys 0 without --big: no data');
  return options;
}

/**
 * A bench's start: its options parsed by `parse`, and redis-server found. An exit code instead when it
 * must stop there: 0 after --help, 2 for bad usage or no redis-server (said on stderr).
 */
export function benchStart(
  argv: string[],
  parse: (argv: string[]) => BenchOptions | undefined,
): { opts: BenchOptions; server: string } | number {
  let opts: BenchOptions | undefined;
  try {
    opts = parse(argv);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`bench: ${(err as Error).message} (see npm run bench -- --help)\n`);
      return 2;
    }
    throw err;
  }
  if (!opts) return 0;
  const server = findRedisServer();
  if (!server) {
    process.stderr.write(
      'bench: redis-server not found: apt-get install -y redis-server (or set KVMERGE_REDIS_SERVER)\n',
    );
    return 2;
  }
  return { opts, server };
}
