import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { findRedisServer } from '../src/demo/local-server.js';

/** redis-cli next to the redis-server the bench runs (same version), else the one on PATH. */
export function redisCliPath(): string {
  const server = findRedisServer();
  if (server) {
    const beside = path.join(path.dirname(server), 'redis-cli');
    try {
      accessSync(beside, fsConstants.X_OK);
      return beside;
    } catch {
      // not installed beside it
    }
  }
  return 'redis-cli';
}

/** `redis-cli --pipe` arguments for a local server; no reply timeout (a 500 MB RESTORE takes a while). */
export function pipeArgs(port: number): string[] {
  return ['-h', '127.0.0.1', '-p', String(port), '--pipe', '--pipe-timeout', '0'];
}

export interface PipeResult {
  errors: number;
  replies: number;
}

/**
 * Reads redis-cli --pipe's closing line (`errors: 0, replies: 1000`). Throws, quoting the output, when
 * the line is missing, a command failed or the count of replies is not the one expected.
 */
export function checkPipeOutput(
  stdout: string,
  exitCode: number | null,
  expectedReplies?: number,
): PipeResult {
  const m = /errors: (\d+), replies: (\d+)/.exec(stdout);
  const tail = stdout.trim().split('\n').slice(-6).join('\n');
  if (!m) throw new Error(`redis-cli --pipe did not finish (exit ${exitCode}):\n${tail}`);
  const result = { errors: Number(m[1]), replies: Number(m[2]) };
  if (result.errors > 0 || exitCode !== 0) {
    throw new Error(`redis-cli --pipe: ${result.errors} error(s) (exit ${exitCode}):\n${tail}`);
  }
  if (expectedReplies !== undefined && result.replies !== expectedReplies) {
    throw new Error(`redis-cli --pipe: ${result.replies} replies for ${expectedReplies} commands`);
  }
  return result;
}

/**
 * Feeds what `produce` writes to `redis-cli --pipe` on a local server, with back-pressure, and checks
 * that every command succeeded. For loading data: this is not timed.
 */
export async function pipeInto(
  port: number,
  produce: (stdin: Writable) => Promise<number>,
): Promise<PipeResult> {
  const child = spawn(redisCliPath(), pipeArgs(port), { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  // Error replies are echoed one a line: keep the tail only.
  child.stdout.on('data', (text: string) => {
    stdout = (stdout + text).slice(-16_384);
  });
  child.stderr.on('data', (text: string) => {
    stdout = (stdout + text).slice(-16_384);
  });
  const closed = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  let commands: number;
  try {
    commands = await produce(child.stdin);
    child.stdin.end();
  } catch (err) {
    child.kill('SIGKILL');
    await closed.catch(() => {});
    throw new Error(`feeding redis-cli --pipe failed: ${(err as Error).message}\n${stdout.trim()}`);
  }
  const exitCode = await closed;
  return checkPipeOutput(stdout, exitCode, commands);
}
