import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../src/demo/local-server.js';

/**
 * The reference of the RDB bench: redis-server loading an RDB file at start-up, timed from spawn until
 * it answers PING. While it loads, Redis replies -LOADING, so the first +PONG means the data is in.
 */

/** Pings 127.0.0.1:port until +PONG, reconnecting while nothing listens yet. */
function pingUntilReady(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (Date.now() > deadline) {
        reject(new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`));
        return;
      }
      const socket = net.connect(port, '127.0.0.1');
      let reply = '';
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk: Buffer) => {
        reply += chunk.toString('latin1');
        if (!reply.endsWith('\r\n')) return;
        if (reply.startsWith('+PONG')) {
          socket.destroy();
          resolve();
        } else {
          // -LOADING: ask again on the same connection, soon.
          reply = '';
          setTimeout(() => socket.write('PING\r\n'), 2);
        }
      });
      socket.on('error', () => {
        socket.destroy();
        setTimeout(attempt, 2);
      });
    };
    attempt();
  });
}

/** Starts redis-server on `file`, waits until it has loaded, checks its key count, stops it; returns ms. */
export async function timeServerLoad(server: string, file: string, expectedKeys: number): Promise<number> {
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    path.dirname(file),
    '--dbfilename',
    path.basename(file),
    // No save points: the file is read, never rewritten.
    '--save',
    '',
    '--appendonly',
    'no',
    '--loglevel',
    'warning',
  ];
  const started = process.hrtime.bigint();
  const child = spawn(server, args, { stdio: 'ignore' });
  try {
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`redis-server exited ${code} while loading ${file}`))),
    );
    // Once loaded, the kill below ends the process: that exit is no failure.
    exited.catch(() => undefined);
    await Promise.race([pingUntilReady(port, 600_000), exited]);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const client = new Redis({ port, host: '127.0.0.1' });
    const size = await client.dbsize();
    client.disconnect();
    if (size !== expectedKeys)
      throw new Error(`redis-server loaded ${size} keys of ${file}, expected ${expectedKeys}`);
    return ms;
  } finally {
    child.kill('SIGKILL');
  }
}
