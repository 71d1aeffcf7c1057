import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Runs a command as a child process and measures its wall time and peak resident set size.
 *
 * Peak RSS comes from GNU time (`/usr/bin/time -v`, Debian package `time`): "Maximum resident set
 * size", the kernel's own high-water mark of the process (ru_maxrss). Without it, /proc/<pid>/status
 * is read every 50 ms and the largest VmHWM seen is kept (VmHWM is itself a high-water mark, so only
 * the growth in the last 50 ms before exit can be missed).
 */

const GNU_TIME = '/usr/bin/time';

export type RssMethod = '/usr/bin/time -v' | '/proc VmHWM sampling (50 ms)';

export interface Measured {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Peak resident set size in KiB; undefined when it could not be read. */
  peakRssKb?: number;
  /** CPU time of the process, user and system, in seconds (GNU time only). */
  cpu?: { user: number; system: number };
}

function hasGnuTime(): boolean {
  try {
    accessSync(GNU_TIME, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** KVMERGE_BENCH_RSS=proc forces the /proc sampler (to test it where GNU time is installed). */
const gnuTime = process.env.KVMERGE_BENCH_RSS !== 'proc' && hasGnuTime();

export function rssMethod(): RssMethod {
  return gnuTime ? '/usr/bin/time -v' : '/proc VmHWM sampling (50 ms)';
}

export interface RunOptions {
  /** A file fed to the command's stdin (default: none). */
  stdinFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs `command args…` to completion; never rejects for a non-zero exit (the caller checks exitCode). */
export async function runMeasured(command: string, args: string[], opts: RunOptions = {}): Promise<Measured> {
  const timeFile = path.join(tmpdir(), `kvmerge-bench-time-${process.pid}-${Date.now()}-${Math.random()}`);
  const [cmd, cmdArgs] = gnuTime ? [GNU_TIME, ['-v', '-o', timeFile, command, ...args]] : [command, args];
  const stdinFd = opts.stdinFile === undefined ? undefined : openSync(opts.stdinFile, 'r');
  const started = process.hrtime.bigint();
  const child = spawn(cmd, cmdArgs, {
    stdio: [stdinFd ?? 'ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  if (stdinFd !== undefined) closeSync(stdinFd);

  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));

  let sampledKb = 0;
  let sampler: NodeJS.Timeout | undefined;
  if (!gnuTime && child.pid !== undefined) {
    const statusFile = `/proc/${child.pid}/status`;
    const sample = async (): Promise<void> => {
      try {
        const status = await readFile(statusFile, 'utf8');
        const kb = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
        if (kb > sampledKb) sampledKb = kb;
      } catch {
        // the process is gone
      }
    };
    void sample();
    sampler = setInterval(() => void sample(), 50);
  }

  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, sig) => resolve([code, sig]));
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (sampler) clearInterval(sampler);

  const result: Measured = {
    exitCode,
    signal,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
    wallMs,
  };
  if (gnuTime) {
    try {
      const report = await readFile(timeFile, 'utf8');
      const kb = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(report)?.[1];
      if (kb !== undefined) result.peakRssKb = Number(kb);
      const user = /User time \(seconds\):\s*([\d.]+)/.exec(report)?.[1];
      const system = /System time \(seconds\):\s*([\d.]+)/.exec(report)?.[1];
      if (user !== undefined && system !== undefined)
        result.cpu = { user: Number(user), system: Number(system) };
      // GNU time runs the command itself: a command that could not be started shows up here.
      if (/Command exited with non-zero status|Command terminated by signal/.test(report)) {
        const line = report.split('\n').find((l) => /^Command /.test(l));
        if (line) result.stderr += `${result.stderr.endsWith('\n') || !result.stderr ? '' : '\n'}${line}\n`;
      }
    } catch {
      // no report: the time binary itself failed; stderr says why
    }
    await rm(timeFile, { force: true });
  } else if (sampledKb > 0) {
    result.peakRssKb = sampledKb;
  }
  return result;
}
