/** Whether a just-started local server answers, and answers as itself (its process id). */
import net from 'node:net';
import { LOOPBACK } from './ports.js';

function respCommand(args: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Whether the server on `port` answers and is process `pid`: `INFO server` over a raw socket (AUTH first
 * when a password is set). The process id matters: while a server that lost the race for its port is
 * still starting up, another test's server on that port would answer a PING.
 */
export function answersAs(
  port: number,
  pid: number | undefined,
  password: string | undefined,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    let received = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('connect', () => {
      const commands = password === undefined ? [] : [respCommand(['AUTH', password])];
      commands.push(respCommand(['INFO', 'server']));
      socket.write(Buffer.concat(commands));
    });
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.startsWith('-') || received.includes('\r\n-')) return done(false);
      const id = /process_id:(\d+)\r\n/.exec(received)?.[1];
      if (id !== undefined) done(id === String(pid));
    });
  });
}
