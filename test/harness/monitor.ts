/**
 * MONITOR over a plain socket: every command a server receives, as its arguments.
 *
 * Not ioredis's `monitor()`: its connection may take a MONITOR line for the reply of a command of
 * its own (`Command queue state error. … Last reply: 1796470487.465197 [0 127.0.0.1:56514] "info"`,
 * seen in CI), which fails the test that watched. Here the socket speaks only MONITOR, so each line
 * after the `+OK` is one command.
 *
 * Example:
 *   const m = await monitor(server);
 *   await runSomething();
 *   const commands = await m.settle(); // [['scan', '0', …], ['type', 'k'], …]
 *   m.close();
 */
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** What a monitor needs of a server (a RedisServer of ./redis.ts has it). */
export interface Monitored {
  readonly port: number;
  readonly password?: string | undefined;
  client(): { echo(message: string): Promise<string>; disconnect(): void };
}

export interface Monitor {
  /** The commands seen so far, in the order the server ran them, each as its arguments (name first). */
  readonly commands: string[][];
  /**
   * Sends a marker (ECHO) from another connection and waits until this monitor shows it: every
   * command the server ran before is then in `commands`. The marker itself is left out.
   */
  settle(): Promise<string[][]>;
  close(): void;
}

export async function monitor(server: Monitored): Promise<Monitor> {
  const socket = connect({ host: '127.0.0.1', port: server.port });
  const lines = new LineReader(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  if (server.password !== undefined) {
    socket.write(`AUTH ${quoteArg(server.password)}\r\n`);
    expectOk(await lines.next(), 'AUTH');
  }
  socket.write('MONITOR\r\n');
  expectOk(await lines.next(), 'MONITOR');

  const commands: string[][] = [];
  const markers = new Map<string, () => void>();
  let failure: Error | undefined;
  lines.onLine = (line) => {
    if (!line.startsWith('+')) {
      failure = new Error(`MONITOR: unexpected line ${JSON.stringify(line)}`);
      return;
    }
    const args = parseMonitorLine(line);
    const marked = args[0]?.toLowerCase() === 'echo' ? markers.get(args[1] ?? '') : undefined;
    if (marked) marked();
    else commands.push(args);
  };
  lines.flush();

  return {
    commands,
    async settle() {
      const marker = `kvmerge-test-marker-${randomUUID()}`;
      const seen = new Promise<void>((resolve) => markers.set(marker, resolve));
      const client = server.client();
      try {
        await client.echo(marker);
      } finally {
        client.disconnect();
      }
      await Promise.race([seen, lines.closed.then(() => Promise.reject(lines.closedError()))]);
      markers.delete(marker);
      if (failure) throw failure;
      return commands;
    },
    close() {
      socket.destroy();
    },
  };
}

/**
 * The arguments of one MONITOR line, `+<time> [<db> <client>] "name" "arg" …`, each unquoted the way
 * Redis quoted it (sdscatrepr: `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`, `\xHH` for other bytes),
 * its bytes read as UTF-8.
 */
export function parseMonitorLine(line: string): string[] {
  const start = line.indexOf('] "');
  if (start < 0) throw new Error(`MONITOR: cannot parse ${JSON.stringify(line)}`);
  const args: string[] = [];
  let i = start + 2;
  while (i < line.length) {
    if (line[i] === ' ') {
      i++;
      continue;
    }
    if (line[i] !== '"') throw new Error(`MONITOR: expected a quote at ${i} of ${JSON.stringify(line)}`);
    i++;
    const bytes: number[] = [];
    while (line[i] !== '"') {
      if (i >= line.length) throw new Error(`MONITOR: unterminated argument in ${JSON.stringify(line)}`);
      const c = line[i]!;
      if (c !== '\\') {
        bytes.push(c.charCodeAt(0));
        i++;
        continue;
      }
      const e = line[i + 1];
      if (e === 'x') {
        bytes.push(Number.parseInt(line.slice(i + 2, i + 4), 16));
        i += 4;
        continue;
      }
      bytes.push(ESCAPES[e ?? ''] ?? (e ?? '').charCodeAt(0));
      i += 2;
    }
    i++;
    args.push(Buffer.from(bytes).toString('utf8'));
  }
  return args;
}

const ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8, '\\': 92, '"': 34 };

function expectOk(line: string, command: string): void {
  if (line !== '+OK')
    throw new Error(`${command} on the MONITOR connection answered ${JSON.stringify(line)}`);
}

/** An inline-command argument: Redis splits inline commands like a shell, so quote and escape it. */
function quoteArg(arg: string): string {
  return `"${arg.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** CRLF-separated lines of a socket; MONITOR's lines are ASCII (Redis escapes every other byte). */
class LineReader {
  onLine: ((line: string) => void) | undefined;
  readonly closed: Promise<void>;
  private buffered = '';
  private readonly queue: string[] = [];
  private waiting: ((line: string) => void) | undefined;
  private error: Error | undefined;

  constructor(socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let end = this.buffered.indexOf('\r\n');
      while (end >= 0) {
        this.push(this.buffered.slice(0, end));
        this.buffered = this.buffered.slice(end + 2);
        end = this.buffered.indexOf('\r\n');
      }
    });
    this.closed = new Promise((resolve) => {
      socket.on('error', (err) => {
        this.error = err;
      });
      socket.on('close', () => resolve());
    });
  }

  /** The next line not yet given to onLine (for the replies before MONITOR's stream starts). */
  next(): Promise<string> {
    const line = this.queue.shift();
    if (line !== undefined) return Promise.resolve(line);
    return Promise.race([
      new Promise<string>((resolve) => {
        this.waiting = resolve;
      }),
      this.closed.then(() => Promise.reject(this.closedError())),
    ]);
  }

  /** Gives the lines queued so far to onLine. */
  flush(): void {
    for (const line of this.queue.splice(0)) this.onLine?.(line);
  }

  closedError(): Error {
    return new Error(`the MONITOR connection closed${this.error ? `: ${this.error.message}` : ''}`);
  }

  private push(line: string): void {
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve(line);
    } else if (this.onLine) this.onLine(line);
    else this.queue.push(line);
  }
}
