/**
 * Runs the kvmerge CLI from source in a child process, and can act on it part-way: once its journal
 * has grown to a number of bytes, or after a delay, call back (a failover starts) or send a signal
 * (kill -9, Ctrl-C). For the resume, verify and Sentinel tests.
 */
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The journal's size when the signal was sent. */
  stoppedAt?: number;
}

/**
 * When to act on the run: at a journal size (bytes) or after `afterMs`, whichever comes first. Then
 * `reached` is called (a failover started, say) and, with `signal`, the CLI gets it.
 */
export interface StopAt {
  /** The journal's path, or a state directory: then the size of the journals in it (SPEC §6.2). */
  journal: string;
  bytes?: number;
  afterMs?: number;
  signal?: NodeJS.Signals;
  /** Called with the CLI's pid (to SIGCONT a stopped one, say). */
  reached?: (pid: number) => void;
}

/** `env`: the child's environment (this process's by default), with CI=true and NO_COLOR=1 on top. */
export function kvmerge(
  args: string[],
  stopAt?: StopAt,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', ...args], {
      cwd: ROOT,
      env: { ...env, CI: 'true', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let stoppedAt: number | undefined;
    let exited = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let timer: NodeJS.Timeout | undefined;
    if (stopAt) {
      const started = Date.now();
      const poll = async (): Promise<void> => {
        if (exited) return;
        const size = await journalBytes(stopAt.journal);
        const late = stopAt.afterMs !== undefined && Date.now() - started >= stopAt.afterMs;
        if ((late || (stopAt.bytes !== undefined && size >= stopAt.bytes)) && stoppedAt === undefined) {
          stoppedAt = size;
          stopAt.reached?.(child.pid!);
          if (stopAt.signal) child.kill(stopAt.signal);
          return;
        }
        timer = setTimeout(poll, 2);
      };
      void poll();
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, stoppedAt });
    });
  });
}

/** A journal's size, or the sum of the `.journal` files' sizes in a directory (0 while there is none). */
export async function journalBytes(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(path)) {
    if (name.endsWith('.journal')) total += (await stat(join(path, name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
