import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { type LocalRedis, startLocalRedis } from '../src/demo/local-server.js';
import type { JsonReport } from '../src/index.js';
import { type Dataset, generateDataset } from './dataset.js';
import { describeMachine } from './machine.js';
import { type BenchOptions, benchStart, parseOptions, UsageError } from './options.js';
import { timeServerLoad } from './rdb-load.js';
import { saveRdb } from './rdb-save.js';
import { rssMethod, runMeasured } from './rss.js';
import { markdownTable, type Reference, type Row, textTable } from './table.js';
import { checkSamples, expectDbsize } from './verify.js';

/**
 * `npm run bench -- --rdb` (issue 19): kvmerge merging RDB files, side by side with the same data
 * from live servers and with redis-server loading the files itself.
 *
 * The sources are filled by the bench's generator (bench/dataset.ts) and SAVEd to RDB files at run
 * time (never committed). Then, each into an empty target: kvmerge (the CLI) with the files as its
 * sources, kvmerge with the live servers as its sources, and redis-server started on each file in
 * turn, timed from spawn until it answers PING with the file loaded (the three summed): the reference,
 * since no client can put the data into a Redis faster than Redis reading its own format.
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.resolve(here, '..', '..', 'bin', 'kvmerge.js');

const REFERENCE: Reference = { header: '× redis-server load', name: 'load' };

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** The main bench's options, less those that cannot apply here (its contenders, a cluster). */
function rdbOptions(argv: string[]): BenchOptions | undefined {
  const rest = argv.filter((a) => a !== '--rdb');
  const unfit = rest.filter((a) => ['--only', '--cluster', '--repeat', '--profile'].includes(a));
  if (unfit.length > 0) throw new UsageError(`${unfit.join(', ')} cannot go with --rdb`);
  return parseOptions(rest);
}

interface Setup {
  opts: BenchOptions;
  dir: string;
  sources: LocalRedis[];
  sourceClients: Redis[];
  target: LocalRedis;
  targetClient: Redis;
  dataset: Dataset;
  files: string[];
}

/** kvmerge's copy from `sources` (file paths or URLs) into the empty target, checked, as a table row. */
async function kvmergeRow(
  s: Setup,
  name: string,
  label: string,
  sources: string[],
): Promise<Row & { notes: string[] }> {
  const base = {
    name,
    label,
    keys: s.dataset.keys,
    bytes: s.dataset.bytes,
    wallMs: 0,
    notes: [] as string[],
  };
  await s.targetClient.flushall();
  const args = [bin, 'merge', ...sources.flatMap((src) => ['-s', src]), '-t', s.target.url, '--no-backup'];
  if (s.opts.concurrency !== undefined) args.push('--concurrency', String(s.opts.concurrency));
  if (s.opts.batch !== undefined) args.push('--batch', String(s.opts.batch));
  args.push('--no-progress', '--quiet', '--json');
  const measured = await runMeasured(process.execPath, args);
  try {
    const report = JSON.parse(measured.stdout) as JsonReport;
    if (measured.exitCode !== 0 || report.outcome !== 'done')
      throw new Error(
        `exit ${measured.exitCode}, outcome ${report.outcome}${report.error ? `: ${report.error}` : ''}`,
      );
    const t = report.totals;
    if (t.created !== s.dataset.keys || t.failed !== 0)
      throw new Error(
        `the report counts ${t.created} created and ${t.failed} failed, expected ${s.dataset.keys} created`,
      );
    await expectDbsize([s.targetClient], s.dataset.keys, label);
    await checkSamples(
      s.sourceClients,
      s.targetClient,
      s.dataset.perSource.flatMap((p) => p.samples),
      'copy',
      label,
    );
    const row = { ...base, wallMs: measured.wallMs, rssOf: 'kvmerge' };
    row.notes.push(
      `engine ${(report.durationMs / 1000).toFixed(2)} s of ${(measured.wallMs / 1000).toFixed(2)} s wall`,
    );
    if (measured.cpu)
      row.notes.push(`kvmerge process CPU ${(measured.cpu.user + measured.cpu.system).toFixed(2)} s`);
    return measured.peakRssKb === undefined ? row : { ...row, peakRssKb: measured.peakRssKb };
  } catch (err) {
    const why =
      err instanceof SyntaxError
        ? `no JSON report: ${measured.stderr.trim().split('\n').slice(-5).join(' | ')}`
        : (err as Error).message;
    return { ...base, error: why };
  } finally {
    await s.targetClient.flushall();
  }
}

/** redis-server loading each file in turn: the reference row. */
async function loadRow(s: Setup, server: string): Promise<Row & { notes: string[] }> {
  const base = {
    name: 'load',
    label: 'redis-server loading the files',
    keys: s.dataset.keys,
    bytes: s.dataset.bytes,
  };
  try {
    const each: number[] = [];
    for (const [i, file] of s.files.entries())
      each.push(await timeServerLoad(server, file, s.dataset.perSource[i]!.keys));
    const notes = [
      `spawn until PING answers, one file after the other: ${each.map((ms) => (ms / 1000).toFixed(2)).join(' + ')} s`,
    ];
    return { ...base, wallMs: each.reduce((a, b) => a + b, 0), notes };
  } catch (err) {
    return { ...base, wallMs: 0, notes: [], error: (err as Error).message };
  }
}

export async function benchRdb(argv: string[]): Promise<number> {
  const start = benchStart(argv, rdbOptions);
  if (typeof start === 'number') return start;
  const { opts, server } = start;
  const dir = mkdtempSync(path.join(tmpdir(), 'kvmerge-bench-rdb-'));
  process.env.KVMERGE_STATE_DIR = path.join(dir, 'state');
  const servers: LocalRedis[] = [];
  const clients: Redis[] = [];
  const loadBefore = os.loadavg();
  try {
    const args = ['--loglevel', 'warning'];
    log(`starting ${opts.sources} source redis-server processes and the target`);
    for (let i = 0; i <= opts.sources; i++) servers.push(await startLocalRedis({ args }));
    const [target, ...sources] = servers as [LocalRedis, ...LocalRedis[]];
    for (const srv of servers) clients.push(new Redis({ host: srv.host, port: srv.port }));
    const [targetClient, ...sourceClients] = clients as [Redis, ...Redis[]];
    log('generating the dataset');
    const dataset = await generateDataset(
      { ...opts, sources: opts.sources },
      sources.map((srv) => srv.port),
    );
    log('saving the sources to RDB files (not timed)');
    const files = await Promise.all(
      sources.map((srv, i) => saveRdb(sourceClients[i]!, srv, path.join(dir, `source-${i + 1}.rdb`))),
    );
    const s: Setup = { opts, dir, sources, sourceClients, target, targetClient, dataset, files };

    log('running kvmerge with the RDB files as sources');
    const fromFiles = await kvmergeRow(s, 'files', `kvmerge, ${files.length} RDB files`, files);
    log('running kvmerge with the live servers as sources');
    const fromServers = await kvmergeRow(
      s,
      'servers',
      `kvmerge, ${sources.length} live servers`,
      sources.map((srv) => srv.url),
    );
    log('timing redis-server loading the files');
    const load = await loadRow(s, server);
    const rows = [fromFiles, fromServers, load];

    const m = describeMachine(server);
    const fileMb = files.reduce((sum, f) => sum + statSync(f).size, 0) / 1e6;
    const loadAfter = os.loadavg();
    const failures = rows.filter((r) => r.error);
    const out = [
      '',
      `kvmerge RDB-source benchmark${opts.quick ? ' (--quick: a smoke run, the numbers mean little)' : ''}`,
      `machine: ${m.cpu}, ${m.cores} cores, ${m.ramGb.toFixed(1)} GiB RAM, ${m.os}; load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after (1 min)`,
      `software: node ${m.node}, redis-server ${m.redis}, kvmerge CLI bin/kvmerge.js --no-backup, peak RSS by ${rssMethod()}`,
      `data: ${opts.sources} source(s) x ${opts.keys.toLocaleString('en-US')} keys, dataset ${opts.dataset}; ` +
        `${dataset.keys.toLocaleString('en-US')} keys, ${(dataset.bytes / 1e6).toFixed(1)} MB payload; RDB files ${fileMb.toFixed(1)} MB in all (SAVE, default compression)`,
      '',
      textTable(rows, [REFERENCE]),
      '',
      'notes:',
      ...rows.flatMap((r) => r.notes.map((n) => `  ${r.label}: ${n}`)),
      '',
      'wall s: process start to exit for kvmerge (node start-up and connecting included); for redis-server,',
      'spawn until PING answers with the data loaded. × redis-server load: the row keys/s over the reference.',
      '',
      'markdown:',
      '',
      markdownTable(rows, [REFERENCE]),
      '',
    ];
    if (failures.length > 0) out.push('FAILED:', ...failures.map((r) => `  ${r.label}: ${r.error}`), '');
    process.stdout.write(out.join('\n'));
    return failures.length > 0 ? 1 : 0;
  } finally {
    for (const c of clients) c.disconnect();
    await Promise.all(servers.map((srv) => srv.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
