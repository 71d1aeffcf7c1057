import { createWriteStream, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';
import { CONFIG_DEFAULTS } from '../src/config/schema.js';
import type { LocalRedis } from '../src/demo/local-server.js';
import type { JsonReport } from '../src/index.js';
import { type Dataset, isPreloaded } from './dataset.js';
import type { BenchOptions, ContenderName } from './options.js';
import { checkPipeOutput, pipeArgs, redisCliPath } from './pipe.js';
import { RespEncoder, writeChunks } from './resp.js';
import { type Measured, runMeasured } from './rss.js';
import { describeStats, readStats, resetStats, serverCpuEach } from './stats.js';
import { checkSamples, expectDbsize, VerifyError } from './verify.js';

/** How kvmerge is started: the CLI (bin/kvmerge.js) or the library behind bench/child.ts. */
export type ResolvedRunner = { kind: 'cli'; bin: string } | { kind: 'child'; entry: string };

export interface BenchContext {
  opts: BenchOptions;
  /** A scratch directory for plan files and the pre-dumped RESTORE streams. */
  dir: string;
  runner: ResolvedRunner;
  sources: LocalRedis[];
  target: LocalRedis;
  sourceClients: Redis[];
  /** Reads the target key by key (a Cluster client where the target is a cluster). */
  targetClient: Redis | Cluster;
  /** One client per master of the target (one for a standalone target): sizes, stats, flushes. */
  targetNodes: Redis[];
  dataset: Dataset;
  /** The RESTORE streams, once prepareRestoreFiles() has written them. */
  restore?: RestoreFiles;
  /** kvmerge's own start-up (a run over empty databases), once measureStartup() has run. */
  startup?: StartUp;
}

/** What kvmerge costs before its first key: node, its modules, connecting and asking the servers. */
export interface StartUp {
  cpuS: number;
  wallS: number;
}

/** CPU seconds each process used over a contender's timed part. */
export interface ProcessCpu {
  /** Per source server, in order. */
  sources: number[];
  /** Per target master (one for a standalone target). */
  target: number[];
  /** The kvmerge process (GNU time), where it ran as one. */
  client?: number;
}

export interface Outcome {
  name: ContenderName;
  label: string;
  keys: number;
  bytes: number;
  wallMs: number;
  peakRssKb?: number;
  /** Whose RSS peakRssKb is. */
  rssOf?: string;
  notes: string[];
  error?: string;
  cpu?: ProcessCpu;
}

export const LABELS: Record<ContenderName, string> = {
  copy: 'kvmerge --no-backup',
  backup: 'kvmerge (defaults: journal)',
  dump: 'kvmerge --mode dump',
  native: 'kvmerge --mode native',
  merge: 'kvmerge merge (½ on target)',
  dry: 'kvmerge merge --dry-run',
  bare: 'bare pipelined copy (floor)',
  migrate: 'MIGRATE COPY REPLACE',
  ceiling: 'RESTORE via redis-cli --pipe',
};

/** MIGRATE's I/O timeout in ms: generous, a 500 MB key takes a while (0 would mean 1 s to Redis). */
const MIGRATE_TIMEOUT_MS = 600_000;
/** kvmerge's own default batch size and concurrency (config schema): the floor and MIGRATE's loop use them too. */
export const DEFAULT_BATCH = CONFIG_DEFAULTS.write.batchSize;
export const DEFAULT_CONCURRENCY = CONFIG_DEFAULTS.write.concurrency;

// ---- pre-dumped RESTORE streams ----

export interface RestoreFiles {
  /** `RESTORE key 0 payload REPLACE` for every key of every source: the ceiling's input. */
  all: string;
  allCommands: number;
  /** The same for the even-numbered keys only: the merge contender's pre-load. */
  half: string;
  halfCommands: number;
  dumpMs: number;
}

/**
 * DUMPs every key of every source (SCAN batches, pipelined DUMP) into two RESP files of RESTORE
 * commands. Done once, before any timing.
 */
export async function prepareRestoreFiles(ctx: BenchContext): Promise<RestoreFiles> {
  const started = Date.now();
  const files = {
    all: path.join(ctx.dir, 'restore-all.resp'),
    half: path.join(ctx.dir, 'restore-half.resp'),
  };
  const allStream = createWriteStream(files.all);
  const halfStream = createWriteStream(files.half);
  const all = new RespEncoder();
  const half = new RespEncoder();
  const flush = async (force = false): Promise<void> => {
    if (force || all.full) await writeChunks(allStream, all.take());
    if (force || half.full) await writeChunks(halfStream, half.take());
  };
  for (const source of ctx.sourceClients) {
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = (await source.scanBuffer(cursor, 'COUNT', 1000)) as [Buffer, Buffer[]];
      cursor = next.toString();
      const keys = found.filter((k) => {
        const id = k.toString('latin1');
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      });
      if (keys.length === 0) continue;
      const pipeline = source.pipeline();
      for (const key of keys) pipeline.dumpBuffer(key);
      const replies = (await pipeline.exec()) as [Error | null, Buffer | null][];
      keys.forEach((key, i) => {
        const [err, payload] = replies[i]!;
        if (err || !payload)
          throw new Error(`DUMP ${key.toString('latin1')} failed: ${err?.message ?? 'no key'}`);
        all.add(['RESTORE', key, 0, payload, 'REPLACE']);
        if (isPreloaded(key)) half.add(['RESTORE', key, 0, payload, 'REPLACE']);
      });
      await flush();
    } while (cursor !== '0');
  }
  await flush(true);
  await Promise.all([endStream(allStream), endStream(halfStream)]);
  return {
    ...files,
    allCommands: all.commands,
    halfCommands: half.commands,
    dumpMs: Date.now() - started,
  };
}

async function endStream(stream: Writable): Promise<void> {
  stream.end();
  await finished(stream);
}

/** Replays a RESTORE file into the target with redis-cli --pipe, measured. */
async function pipeFile(ctx: BenchContext, file: string, commands: number): Promise<Measured> {
  const measured = await runMeasured(redisCliPath(), pipeArgs(ctx.target.port), { stdinFile: file });
  checkPipeOutput(measured.stdout + measured.stderr, measured.exitCode, commands);
  return measured;
}

// ---- the contenders ----

/** Starts counting the servers' commands: call right before the timed part. */
async function startCounting(ctx: BenchContext): Promise<void> {
  await resetStats([...ctx.sourceClients, ...ctx.targetNodes]);
  cpuAtStart = await serversCpu(ctx);
}

async function serversCpu(ctx: BenchContext): Promise<ProcessCpu> {
  const [sources, target] = await Promise.all([
    serverCpuEach(ctx.sourceClients),
    serverCpuEach(ctx.targetNodes),
  ]);
  return { sources, target };
}

/** The servers' CPU seconds when counting started. */
let cpuAtStart: ProcessCpu = { sources: [], target: [] };

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * What the servers executed since startCounting(), one note for the sources and one for the target,
 * and the CPU their processes used meanwhile (commands, and the network I/O that busy leaves out).
 */
async function readCounts(ctx: BenchContext): Promise<{ notes: string[]; cpu: ProcessCpu }> {
  const [sources, target, now] = await Promise.all([
    readStats(ctx.sourceClients),
    readStats(ctx.targetNodes),
    serversCpu(ctx),
  ]);
  const cpu: ProcessCpu = {
    sources: now.sources.map((c, i) => c - (cpuAtStart.sources[i] ?? 0)),
    target: now.target.map((c, i) => c - (cpuAtStart.target[i] ?? 0)),
  };
  const keys = ctx.dataset.keys;
  return {
    notes: [
      describeStats('sources', sources, keys),
      describeStats('target', target, keys),
      `server processes' CPU: sources ${sum(cpu.sources).toFixed(2)} s, target ${sum(cpu.target).toFixed(2)} s`,
    ],
    cpu,
  };
}

async function flushTarget(ctx: BenchContext): Promise<void> {
  await Promise.all(ctx.targetNodes.map((node) => node.flushall()));
}

export async function runContender(ctx: BenchContext, name: ContenderName): Promise<Outcome> {
  const base: Outcome = {
    name,
    label: LABELS[name],
    keys: ctx.dataset.keys,
    bytes: ctx.dataset.bytes,
    wallMs: 0,
    notes: [],
  };
  await flushTarget(ctx);
  try {
    switch (name) {
      case 'copy':
      case 'backup':
        return await kvmergeCopy(ctx, base, 'auto');
      case 'dump':
      case 'native':
        return await kvmergeCopy(ctx, base, name);
      case 'merge':
        return await kvmergeMerge(ctx, base, false);
      case 'dry':
        return await kvmergeMerge(ctx, base, true);
      case 'bare':
        return await bareCopy(ctx, base);
      case 'migrate':
        return await migrateLoop(ctx, base);
      case 'ceiling':
        return await ceiling(ctx, base);
    }
  } catch (err) {
    return { ...base, error: err instanceof Error ? err.message : String(err) };
  } finally {
    await flushTarget(ctx);
  }
}

interface KvmergeJob {
  name: ContenderName;
  mode: 'auto' | 'dump' | 'native';
  /** Per-type strategies; unset types keep kvmerge's default (skip). */
  strategies: Partial<Record<'string' | 'hash' | 'set' | 'zset' | 'list', 'override' | 'merge' | 'skip'>>;
  dryRun?: boolean;
  /** A journal file to write (--backup); a fresh path each run. */
  backup?: string;
  /** Read an empty database of each source instead (measureStartup). */
  emptySources?: boolean;
}

/** A database the dataset leaves empty on every source. */
const EMPTY_DB = 15;

/** Starts kvmerge as a child process (CLI or library entry) and returns its measurement and report. */
async function runKvmerge(
  ctx: BenchContext,
  job: KvmergeJob,
): Promise<{ measured: Measured; report: JsonReport; counted: string[]; cpu: ProcessCpu }> {
  const { opts } = ctx;
  let args: string[];
  const sourceUrls = ctx.sources.map((s) => (job.emptySources ? s.urlFor(EMPTY_DB) : s.url));
  if (ctx.runner.kind === 'cli') {
    args = [ctx.runner.bin, 'merge'];
    for (const url of sourceUrls) args.push('-s', url);
    args.push('-t', ctx.target.url, '--mode', job.mode);
    if (job.dryRun) args.push('--dry-run');
    // The journal is the default (SPEC §6.2): every contender but `backup` runs without it.
    args.push(...(job.backup ? ['--backup', job.backup] : ['--no-backup']));
    for (const [type, strategy] of Object.entries(job.strategies)) args.push(`--${type}`, strategy);
    if (opts.concurrency !== undefined) args.push('--concurrency', String(opts.concurrency));
    if (opts.batch !== undefined) args.push('--batch', String(opts.batch));
    args.push('--no-progress', '--quiet', '--json');
  } else {
    const doc = {
      version: 1,
      ...(job.dryRun ? { dryRun: true } : {}),
      ...(job.backup ? { safety: { backup: job.backup } } : {}),
      sources: sourceUrls.map((url) => ({ url })),
      target: { url: ctx.target.url },
      strategies: job.strategies,
      write: {
        mode: job.mode,
        ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
        ...(opts.batch === undefined ? {} : { batchSize: opts.batch }),
      },
    };
    const file = path.join(ctx.dir, `plan-${job.name}.json`);
    await writeFile(file, JSON.stringify(doc, null, 2));
    args = [ctx.runner.entry, file];
  }
  const nodeArgs = opts.profileDir
    ? [
        '--cpu-prof',
        '--cpu-prof-dir',
        path.resolve(opts.profileDir),
        '--cpu-prof-name',
        `kvmerge-${job.emptySources ? 'startup' : job.name}.cpuprofile`,
      ]
    : [];
  await startCounting(ctx);
  const measured = await runMeasured(process.execPath, [...nodeArgs, ...args]);
  const { notes: counted, cpu } = await readCounts(ctx);
  const stderr = measured.stderr.trim().split('\n').slice(-10).join('\n');
  let report: JsonReport;
  try {
    report = JSON.parse(measured.stdout) as JsonReport;
  } catch {
    throw new Error(
      `kvmerge printed no JSON report (exit ${measured.exitCode ?? measured.signal})${stderr ? `:\n${stderr}` : ''}`,
    );
  }
  if (measured.exitCode !== 0 || report.outcome !== 'done') {
    throw new Error(
      `kvmerge ended with exit ${measured.exitCode ?? measured.signal}, outcome ${report.outcome}` +
        `${report.error ? `: ${report.error}` : ''}${stderr ? `\n${stderr}` : ''}`,
    );
  }
  return { measured, report, counted, cpu };
}

/**
 * kvmerge's fixed cost, for the separate-hosts projection (bench/projection.ts): a run over an empty
 * database of each source, which starts node, loads the modules, connects and asks the servers what
 * they are, and copies nothing. The median of three.
 */
export async function measureStartup(ctx: BenchContext): Promise<StartUp> {
  const runs: StartUp[] = [];
  for (let i = 0; i < 3; i++) {
    const { measured } = await runKvmerge(ctx, {
      name: 'copy',
      mode: 'auto',
      strategies: {},
      emptySources: true,
    });
    const cpu = measured.cpu ? measured.cpu.user + measured.cpu.system : 0;
    runs.push({ cpuS: cpu, wallS: measured.wallMs / 1000 });
  }
  return runs.sort((a, b) => a.cpuS - b.cpuS)[1]!;
}

function kvmergeOutcome(
  base: Outcome,
  run: { measured: Measured; report: JsonReport; counted: string[]; cpu: ProcessCpu },
): Outcome {
  const { measured, report } = run;
  const t = report.totals;
  const notes = [
    ...run.counted,
    `engine ${(report.durationMs / 1000).toFixed(2)} s of ${(measured.wallMs / 1000).toFixed(2)} s wall; ` +
      `created ${t.created}, overridden ${t.overridden}, merged ${t.merged}, skipped ${t.skipped}`,
  ];
  if (measured.cpu) {
    notes.push(
      `kvmerge process CPU ${(measured.cpu.user + measured.cpu.system).toFixed(2)} s ` +
        `(user ${measured.cpu.user.toFixed(2)} s, system ${measured.cpu.system.toFixed(2)} s)`,
    );
  }
  for (const f of report.fallbacks) notes.push(`fallback: ${f.reason} (${f.keys} keys)`);
  const cpu: ProcessCpu = { ...run.cpu };
  if (measured.cpu) cpu.client = measured.cpu.user + measured.cpu.system;
  const out: Outcome = { ...base, wallMs: measured.wallMs, rssOf: 'kvmerge', notes, cpu };
  if (measured.peakRssKb !== undefined) out.peakRssKb = measured.peakRssKb;
  return out;
}

/** Throws unless the report's counters are the ones this dataset and contender must give. */
function expectCounts(report: JsonReport, expected: Partial<JsonReport['totals']>, what: string): void {
  for (const [counter, want] of Object.entries(expected)) {
    const got = report.totals[counter as keyof JsonReport['totals']];
    if (got !== want) throw new VerifyError(`${what}: the report counts ${counter} ${got}, expected ${want}`);
  }
}

/** Journals written so far: each backup run writes a new one (a journal is never overwritten). */
let journals = 0;

async function kvmergeCopy(
  ctx: BenchContext,
  base: Outcome,
  mode: 'auto' | 'dump' | 'native',
): Promise<Outcome> {
  const backup = base.name === 'backup' ? path.join(ctx.dir, `run-${++journals}.journal`) : undefined;
  const run = await runKvmerge(ctx, { name: base.name, mode, strategies: {}, backup });
  if (backup)
    run.counted.push(
      `journal: ${(statSync(backup).size / run.report.totals.created).toFixed(0)} bytes per created key`,
    );
  const total = ctx.dataset.keys;
  expectCounts(run.report, { scanned: total, created: total, failed: 0, expired: 0 }, base.label);
  await verifyTarget(ctx, 'copy', base.label);
  return kvmergeOutcome(base, run);
}

/** The merge into a target holding half the keys; as a dry run, the same counters and a target left alone. */
async function kvmergeMerge(ctx: BenchContext, base: Outcome, dryRun: boolean): Promise<Outcome> {
  const restore = ctx.restore;
  if (!restore) throw new Error('the RESTORE files were not prepared');
  // Pre-load (not timed): a copy of the even-numbered keys, so half of the keys conflict.
  await pipeFile(ctx, restore.half, restore.halfCommands);
  await expectDbsize(ctx.targetNodes, restore.halfCommands, `${base.label} pre-load`);

  const run = await runKvmerge(ctx, {
    name: base.name,
    mode: 'auto',
    strategies: { string: 'override', hash: 'merge', set: 'merge', zset: 'merge', list: 'merge' },
    dryRun,
  });
  const { report } = run;
  const total = ctx.dataset.keys;
  const preloaded = restore.halfCommands;
  expectCounts(
    report,
    { scanned: total, created: total - preloaded, skipped: 0, failed: 0, expired: 0 },
    base.label,
  );
  const stringsPreloaded = report.totals.overridden;
  if (stringsPreloaded + report.totals.merged !== preloaded) {
    throw new VerifyError(
      `${base.label}: the report counts ${report.totals.merged} merged + ${stringsPreloaded} overridden, ` +
        `expected ${preloaded} conflicts`,
    );
  }
  if (dryRun) await expectDbsize(ctx.targetNodes, preloaded, `${base.label}: the target after a dry run`);
  else await verifyTarget(ctx, 'merge', base.label);
  return kvmergeOutcome(base, run);
}

async function verifyTarget(ctx: BenchContext, mode: 'copy' | 'merge', what: string): Promise<void> {
  await expectDbsize(ctx.targetNodes, ctx.dataset.keys, what);
  const samples = ctx.dataset.perSource.flatMap((s) => s.samples);
  await checkSamples(ctx.sourceClients, ctx.targetClient, samples, mode, what);
}

/**
 * The floor (bench/bare-copy.ts): kvmerge's probe script and RESP code with nothing around them, as a
 * process of its own, measured like kvmerge with the same batch size and concurrency.
 */
async function bareCopy(ctx: BenchContext, base: Outcome): Promise<Outcome> {
  const entry = fileURLToPath(new URL('./bare-copy.js', import.meta.url));
  const args = [
    entry,
    String(ctx.opts.batch ?? DEFAULT_BATCH),
    String(ctx.opts.concurrency ?? DEFAULT_CONCURRENCY),
    ctx.target.url,
    ...ctx.sources.map((s) => s.url),
  ];
  await startCounting(ctx);
  const measured = await runMeasured(process.execPath, args);
  const { notes, cpu } = await readCounts(ctx);
  if (measured.exitCode !== 0) {
    throw new Error(
      `the bare copy ended with exit ${measured.exitCode ?? measured.signal}: ${measured.stderr.trim()}`,
    );
  }
  const counts = JSON.parse(measured.stdout) as { restored: number; refused: number; big: number };
  if (counts.restored !== ctx.dataset.keys || counts.big > 0) {
    throw new VerifyError(
      `${base.label}: restored ${counts.restored} keys (${counts.refused} refused, ${counts.big} too big), ` +
        `expected ${ctx.dataset.keys}`,
    );
  }
  await verifyTarget(ctx, 'copy', base.label);
  const out: Outcome = { ...base, wallMs: measured.wallMs, rssOf: 'the bare copy', notes, cpu };
  if (measured.cpu) {
    out.cpu = { ...cpu, client: measured.cpu.user + measured.cpu.system };
    notes.push(`client process CPU ${out.cpu.client!.toFixed(2)} s, node's start-up included`);
  }
  if (measured.peakRssKb !== undefined) out.peakRssKb = measured.peakRssKb;
  return out;
}

/**
 * The baseline: Redis's own server-side copy. One client loop per source, one source after the other
 * (like kvmerge, which folds sources in order): SCAN a batch, `MIGRATE host port "" 0 timeout COPY
 * REPLACE KEYS k1 … kN`, repeat. MIGRATE blocks the source while it DUMPs, sends and waits for the
 * target's RESTOREs, so one loop per source is all a source can take.
 */
async function migrateLoop(ctx: BenchContext, base: Outcome): Promise<Outcome> {
  const batch = ctx.opts.batch ?? DEFAULT_BATCH;
  const port = String(ctx.target.port);
  const migrate = async (source: Redis, keys: Buffer[]): Promise<void> => {
    const reply = await source.callBuffer(
      'MIGRATE',
      '127.0.0.1',
      port,
      '',
      '0',
      String(MIGRATE_TIMEOUT_MS),
      'COPY',
      'REPLACE',
      'KEYS',
      ...keys,
    );
    const text = String(reply);
    if (text !== 'OK') throw new Error(`MIGRATE replied ${text}`);
  };
  await startCounting(ctx);
  const started = process.hrtime.bigint();
  for (const source of ctx.sourceClients) {
    let cursor = '0';
    let pending: Buffer[] = [];
    do {
      const [next, keys] = (await source.scanBuffer(cursor, 'COUNT', batch)) as [Buffer, Buffer[]];
      cursor = next.toString();
      pending.push(...keys);
      while (pending.length >= batch) {
        await migrate(source, pending.slice(0, batch));
        pending = pending.slice(batch);
      }
    } while (cursor !== '0');
    if (pending.length > 0) await migrate(source, pending);
  }
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const { notes: counted, cpu } = await readCounts(ctx);
  await verifyTarget(ctx, 'copy', base.label);
  return {
    ...base,
    wallMs,
    cpu,
    notes: [...counted, `${batch} keys per MIGRATE; server-side copy, no client process to measure`],
  };
}

/** The ceiling: the target's own RESTORE speed, fed by redis-cli --pipe from a pre-dumped file. */
async function ceiling(ctx: BenchContext, base: Outcome): Promise<Outcome> {
  const restore = ctx.restore;
  if (!restore) throw new Error('the RESTORE files were not prepared');
  await startCounting(ctx);
  const measured = await pipeFile(ctx, restore.all, restore.allCommands);
  const { notes: counted, cpu } = await readCounts(ctx);
  await verifyTarget(ctx, 'copy', base.label);
  const out: Outcome = {
    ...base,
    wallMs: measured.wallMs,
    cpu,
    rssOf: 'redis-cli',
    notes: [
      ...counted,
      `${restore.allCommands} RESTORE commands, pre-dumped in ${(restore.dumpMs / 1000).toFixed(1)} s (not timed)`,
    ],
  };
  if (measured.peakRssKb !== undefined) out.peakRssKb = measured.peakRssKb;
  return out;
}
