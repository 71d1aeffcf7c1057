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

const CRLF = 0x0a0d; // "\r\n" as a little-endian uint16

/** RESP encoding of many commands into one buffer: lengths first, then a single allocation. */
export function encode(commands: readonly Command[]): Buffer {
  let size = 0;
  const args: (Buffer | string)[][] = new Array(commands.length);
  for (let c = 0; c < commands.length; c++) {
    const cmd = commands[c]!;
    const row: (Buffer | string)[] = new Array(cmd.length);
    size += 3 + digits(cmd.length);
    for (let i = 0; i < cmd.length; i++) {
      const arg = cmd[i]!;
      const value = Buffer.isBuffer(arg) ? arg : String(arg);
      const length = Buffer.isBuffer(value) ? value.length : Buffer.byteLength(value);
      row[i] = value;
      size += 5 + digits(length) + length;
    }
    args[c] = row;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const row of args) {
    at += out.write(`*${row.length}\r\n`, at, 'latin1');
    for (const value of row) {
      if (Buffer.isBuffer(value)) {
        at += out.write(`$${value.length}\r\n`, at, 'latin1');
        at += value.copy(out, at);
      } else {
        const length = Buffer.byteLength(value);
        at += out.write(`$${length}\r\n`, at, 'latin1');
        at += out.write(value, at, 'utf8');
      }
      out.writeUInt16LE(CRLF, at);
      at += 2;
    }
  }
  return out;
}

function digits(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : String(n).length;
}
