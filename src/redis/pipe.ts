import net from 'node:net';
import tls from 'node:tls';
import RedisParser from 'redis-parser';
import type { Command } from '../write/commands.js';
import { parseRedisUrl, redactUrl } from './url.js';

/** A RESP2 reply as the parser gives it: bulk and status strings as Buffers, integers as numbers. */
export type Reply = Buffer | number | null | Reply[] | Error;

interface Waiting {
  replies: Reply[];
  expected: number;
  resolve(replies: Reply[]): void;
  reject(err: Error): void;
}

/**
 * A pipelining RESP connection for the hot path: probe, value reads and writes of whole batches.
 *
 * Written here instead of using ioredis for these: ioredis builds a Command object, a promise and
 * its flags for every command, about 11–13 µs each on the development machine (90k commands/s),
 * while a batch needs ~9 commands per key. This encodes a whole batch into one buffer and collects
 * the replies in order: 230–260k commands/s measured on the same machine, where the server becomes
 * the limit. Everything else (connecting and error messages, SCAN, capabilities, big keys) stays on
 * ioredis.
 *
 * There is no reconnection: a lost connection fails what is in flight (the run then stops, SPEC §4
 * exit 1), so a write is never re-sent blindly (SPEC §1.6).
 */
export class RespPipe {
  private readonly waiting: Waiting[] = [];
  private failure?: Error;
  private readonly parser: RedisParser;

  private constructor(
    private readonly socket: net.Socket,
    private readonly label: string,
  ) {
    this.parser = new RedisParser({
      returnBuffers: true,
      returnReply: (reply) => this.deliver(reply as Reply),
      returnError: (error) => this.deliver(error),
      returnFatalError: (error) => this.fail(error),
    });
    socket.on('data', (chunk: Buffer) => this.parser.execute(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  /** Connects, authenticates and selects the URL's database. The URL has already been proven usable. */
  static async open(url: string, label: string): Promise<RespPipe> {
    const e = parseRedisUrl(url);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = e.tls
        ? tls.connect({ host: e.host, port: e.port, servername: net.isIP(e.host) ? undefined : e.host })
        : net.connect({ host: e.host, port: e.port });
      s.once(e.tls ? 'secureConnect' : 'connect', () => resolve(s));
      s.once('error', reject);
    });
    socket.setNoDelay(true);
    const pipe = new RespPipe(socket, `${label} ${redactUrl(url)}`);
    const hello: Command[] = [];
    if (e.password !== undefined)
      hello.push(e.username ? ['AUTH', e.username, e.password] : ['AUTH', e.password]);
    if (e.db !== 0) hello.push(['SELECT', e.db]);
    for (const reply of await pipe.send(hello)) if (reply instanceof Error) throw reply;
    return pipe;
  }

  /** Sends the commands in one write and resolves to their replies in order; error replies are Error values. */
  send(commands: readonly Command[]): Promise<Reply[]> {
    if (commands.length === 0) return Promise.resolve([]);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ replies: [], expected: commands.length, resolve, reject });
      this.socket.write(encode(commands));
    });
  }

  close(): void {
    this.failure ??= new Error('connection closed');
    this.socket.destroy();
  }

  private deliver(reply: Reply): void {
    const head = this.waiting[0];
    if (!head) return;
    head.replies.push(reply);
    if (head.replies.length === head.expected) {
      this.waiting.shift();
      head.resolve(head.replies);
    }
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = new Error(`lost the connection to ${this.label}: ${err.message}`);
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }
}

/**
 * RESP encoding of many commands into one buffer, sizes first, then one allocation. This is the
 * hottest code of a run (a few commands per key), so it avoids Buffer.write for the short pieces:
 * headers are written digit by digit, command names and flags come from a cache, and short
 * arguments are copied byte by byte (cheaper than a native copy call at these sizes).
 */
export function encode(commands: readonly Command[]): Buffer {
  let size = 0;
  let argCount = 0;
  for (const cmd of commands) argCount += cmd.length;
  const args: Buffer[] = new Array(argCount);
  let n = 0;
  for (const cmd of commands) {
    size += 3 + digits(cmd.length);
    for (const arg of cmd) {
      const bytes = toBytes(arg);
      args[n++] = bytes;
      size += 5 + digits(bytes.length) + bytes.length;
    }
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  n = 0;
  for (const cmd of commands) {
    at = header(out, at, 0x2a, cmd.length);
    for (let i = 0; i < cmd.length; i++) {
      const bytes = args[n++]!;
      const length = bytes.length;
      at = header(out, at, 0x24, length);
      if (length < 64) {
        for (let j = 0; j < length; j++) out[at + j] = bytes[j]!;
      } else {
        bytes.copy(out, at);
      }
      at += length;
      out[at++] = 0x0d;
      out[at++] = 0x0a;
    }
  }
  return out;
}

const constants = new Map<string, Buffer>();

function toBytes(arg: Buffer | string | number): Buffer {
  if (Buffer.isBuffer(arg)) return arg;
  const text = typeof arg === 'number' ? String(arg) : arg;
  // Command names and flags repeat on every key; other strings (rare) are encoded each time.
  if (typeof arg === 'string' && text.length <= 16) {
    let cached = constants.get(text);
    if (!cached) {
      cached = Buffer.from(text, 'utf8');
      if (constants.size < 256) constants.set(text, cached);
    }
    return cached;
  }
  return Buffer.from(text, 'utf8');
}

/** Writes `<mark><n>\r\n` at `at` and returns the position after it. */
function header(out: Buffer, at: number, mark: number, n: number): number {
  out[at++] = mark;
  const width = digits(n);
  for (let i = width - 1; i >= 0; i--) {
    out[at + i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  at += width;
  out[at++] = 0x0d;
  out[at++] = 0x0a;
  return at;
}

function digits(n: number): number {
  let width = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    width++;
  }
  return width;
}
