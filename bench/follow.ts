import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { type LocalRedis, startLocalRedis } from '../src/demo/local-server.js';

/**
 * `npm run bench -- --follow` (SPEC §9, issue "live merge"): the CLI's `--follow` as a child process
 * against three local sources and one target, measured the way an operator would see it.
 *
 * 1. Steady state: the sources take `--rate-writes` writes a second in all (SET of small keys over a
 *    keyspace of `--keys`) for `--seconds`; the follow's lag (change → fold written) p50/p99/max comes
 *    from its report.
 * 2. Capacity: a burst of `--burst` changed keys (distinct, pipelined as fast as the sources take them),
 *    then the time until the follow has folded them all (its status lines): keys/s folded again.
 * Peak RSS of the kvmerge process over both (/proc VmHWM), and whether anything was left different
 * (a final `kvmerge verify` with the journal).
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.resolve(here, '..', '..', 'bin', 'kvmerge.js');

interface FollowBenchOptions {
  keys: number;
  writesPerSecond: number;
  seconds: number;
  burst: number;
}

function options(argv: string[]): FollowBenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      follow: { type: 'boolean' },
      quick: { type: 'boolean' },
      keys: { type: 'string' },
      'rate-writes': { type: 'string' },
      seconds: { type: 'string' },
      burst: { type: 'string' },
    },
    strict: true,
  });
  const quick = values.quick ?? false;
  const num = (v: string | undefined, d: number): number => (v === undefined ? d : Number(v));
  return {
    keys: num(values.keys, quick ? 2_000 : 100_000),
    writesPerSecond: num(values['rate-writes'], quick ? 1_000 : 5_000),
    seconds: num(values.seconds, quick ? 3 : 20),
    burst: num(values.burst, quick ? 20_000 : 300_000),
  };
}

/** Peak RSS of a process so far, KiB (VmHWM). */
function peakRssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
}

/** Writes `perSecond` SETs a second spread over the sources, for `ms`, in 50 ms slices. */
async function paced(
  clients: Redis[],
  perSecond: number,
  ms: number,
  keys: number,
  tag: string,
): Promise<number> {
  const slice = 50;
  const perSlice = Math.max(1, Math.round((perSecond * slice) / 1000));
  const end = Date.now() + ms;
  let sent = 0;
  while (Date.now() < end) {
    const started = Date.now();
    await Promise.all(
      clients.map((c, i) => {
        const p = c.pipeline();
        for (let n = 0; n < Math.ceil(perSlice / clients.length); n++) {
          p.set(`k:${Math.floor(Math.random() * keys)}`, `${tag}${i}:${sent + n}`);
        }
        return p.exec();
      }),
    );
    sent += perSlice;
    const wait = slice - (Date.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return sent;
}

/** Resolves with the first status line matching `pattern` after `from` (index into the lines seen). */
function waitFor(
  lines: string[],
  pattern: RegExp,
  from: number,
  child: ChildProcess,
  ms: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = (): void => {
      const hit = lines.slice(from).find((l) => pattern.test(l));
      if (hit) resolve(hit);
      else if (child.exitCode !== null) {
        reject(new Error(`kvmerge exited ${child.exitCode}: ${lines.slice(-5).join(' | ')}`));
      } else if (Date.now() > end) reject(new Error(`no ${pattern} within ${ms} ms`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

export async function benchFollow(argv: string[]): Promise<number> {
  const o = options(argv);
  const dir = mkdtempSync(path.join(tmpdir(), 'kvmerge-bench-follow-'));
  const args = ['--save', '', '--appendonly', 'no', '--notify-keyspace-events', 'KEA'];
  const servers: LocalRedis[] = [];
  const clients: Redis[] = [];
  try {
    for (let i = 0; i < 4; i++) servers.push(await startLocalRedis({ args }));
    const [target, ...sources] = servers as [LocalRedis, ...LocalRedis[]];
    for (const s of sources) clients.push(new Redis(s.url));
    process.stdout.write(
      `kvmerge follow benchmark: 3 sources, ${o.keys} keys each, ${o.writesPerSecond} writes/s for ${o.seconds} s, then a burst of ${o.burst} changes\n`,
    );
    for (const c of clients) {
      for (let i = 0; i < o.keys; i += 10_000) {
        const p = c.pipeline();
        for (let k = i; k < Math.min(o.keys, i + 10_000); k++) p.set(`k:${k}`, 'seed');
        await p.exec();
      }
    }
    const journal = path.join(dir, 'follow.journal');
    const report = path.join(dir, 'report.json');
    const child = spawn(
      process.execPath,
      [
        bin,
        'merge',
        ...sources.flatMap((s) => ['-s', s.url]),
        '-t',
        target.url,
        '--on-conflict',
        'override',
        '--follow',
        '--backup',
        journal,
        '--report',
        report,
        '--no-progress',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const lines: string[] = [];
    let partial = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) lines.push(`${Date.now()} ${l}`);
    });
    let peak = 0;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, peakRssKb(child.pid!));
      } catch {}
    }, 100);
    const snapshotStart = Date.now();
    await waitFor(lines, /follow: snapshot done/, 0, child, 600_000);
    const snapshotMs = Date.now() - snapshotStart;
    await waitFor(lines, /caught up/, 0, child, 600_000);

    // 1. Steady state, with end-to-end lag probes: a key written on a source, timed until the target has it.
    const targetClient = new Redis(target.url);
    const lags: number[] = [];
    let probing = true;
    const prober = (async () => {
      for (let n = 0; probing; n++) {
        const key = `probe:${n}`;
        const written = performance.now();
        await clients[n % clients.length]!.set(key, 'p');
        while ((await targetClient.exists(key)) === 0) await new Promise((r) => setTimeout(r, 2));
        lags.push(performance.now() - written);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const steadyWrites = await paced(clients, o.writesPerSecond, o.seconds * 1000, o.keys, 's');
    probing = false;
    await prober;
    lags.sort((a, b) => a - b);
    const pct = (q: number): number =>
      Math.round(lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? 0);

    // 2. Burst: distinct keys, as fast as the sources take them; caught up once the target has each
    // source's last one (a source's events arrive in order).

    const burstStart = Date.now();
    const per = Math.ceil(o.burst / clients.length);
    await Promise.all(
      clients.map(async (c, i) => {
        for (let n = 0; n < per; n += 5_000) {
          const p = c.pipeline();
          for (let k = n; k < Math.min(per, n + 5_000); k++) p.set(`b${i}:${k}`, 'x');
          await p.exec();
        }
      }),
    );
    const burstEnd = Date.now();
    const last = clients.map((_, i) => `b${i}:${per - 1}`);
    while ((await targetClient.exists(...last)) < last.length) {
      if (Date.now() - burstEnd > 600_000 || child.exitCode !== null)
        throw new Error('the burst was not folded');
      await new Promise((r) => setTimeout(r, 5));
    }
    const caughtAt = Date.now();
    targetClient.disconnect();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    clearInterval(sampler);
    const summary = JSON.parse(readFileSync(report, 'utf8')) as {
      outcome: string;
      follow?: {
        refolded: number;
        written: number;
        failed: number;
        lagMs: { p50: number; p99: number; max: number };
        passes: unknown[];
      };
    };
    const burstKeysPerSec = Math.round((o.burst * 1000) / Math.max(1, caughtAt - burstStart));
    const rows = [
      ['snapshot (3 sources)', `${(snapshotMs / 1000).toFixed(1)} s for ${3 * o.keys} keys`],
      ['steady writes', `${steadyWrites} SETs in ${o.seconds} s (${Math.round(steadyWrites / o.seconds)}/s)`],
      [
        'steady lag p50 / p99',
        `${pct(0.5)} / ${pct(0.99)} ms (${lags.length} probes: a write on a source until the target has it)`,
      ],
      [
        'lag, whole run',
        `p50 ${summary.follow?.lagMs.p50} / p99 ${summary.follow?.lagMs.p99} / max ${summary.follow?.lagMs.max} ms (report.follow.lagMs, burst included)`,
      ],
      ['burst', `${o.burst} changed keys written in ${((burstEnd - burstStart) / 1000).toFixed(1)} s`],
      [
        'burst folded again',
        `all on the target ${((caughtAt - burstEnd) / 1000).toFixed(1)} s after it ended; ${burstKeysPerSec} keys/s from its start`,
      ],
      [
        'follow totals',
        `${summary.follow?.refolded} folded again, ${summary.follow?.written} written, ${summary.follow?.failed} failed, ${summary.follow?.passes.length} passes`,
      ],
      ['peak RSS (kvmerge)', `${Math.round(peak / 1024)} MiB`],
      ['outcome', summary.outcome],
    ];
    for (const [k, v] of rows) process.stdout.write(`${k!.padEnd(22)} ${v}\n`);
    return summary.outcome === 'done' ? 0 : 1;
  } finally {
    for (const c of clients) c.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
