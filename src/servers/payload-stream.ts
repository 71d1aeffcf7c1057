import type net from 'node:net';
import { RDB_OBJECT_TYPES } from '../rdb/object-types.js';
import { now } from './clock.js';
import { encode } from './resp.js';
import { ReplyError } from './resp-decoder.js';
import { openSession } from './socket.js';
import type { ServerAt } from './transport.js';

/**
 * One value copied as MIGRATE copies it, one DUMP payload and one RESTORE, without kvmerge ever holding
 * the payload: its bytes (a server's DUMP reply, or an RDB file's record: the PayloadOrigin) are
 * forwarded to the target piece by piece, as the body of a RESTORE whose header is written once the
 * payload's length is known.
 *
 * Written on raw sockets of its own rather than through the pipes (pipe.ts), whose reply decoder holds
 * a bulk string whole until its last byte: for a value of hundreds of MB that is the memory this path
 * exists to save. The origin is read only as fast as the target takes the bytes (a piece that comes
 * while the last one waits pauses the source's socket; at most WRITE_AHEAD waits in the target's), so
 * what kvmerge holds is a few socket buffers, whatever the value's size. Both connections are closed at
 * the end: closing the source's drops the rest of a reply that is not wanted, and closing the target's
 * before the RESTORE is whole makes the server discard it: nothing of a RESTORE cut short is applied.
 */

/** What the origin said of the value before its payload: the RESTORE is planned from this. */
export interface PayloadHead {
  /** Its data type (`hash`, `stream`…; `none`: no such key); undefined where the payload's type byte is one this version does not know. */
  type: string | undefined;
  /** Its remaining life as PTTL gives it: ms left, -1 without a TTL, -2 gone. */
  pttl: number;
  /** When that was read (servers/clock.ts `now()`): the deadline counts from there. */
  sentAt: number;
  /** The payload's length in bytes; -1 where there is no such key. */
  length: number;
}

/**
 * Where a payload comes from, read once: a server's DUMP (serverPayload), or a record of an RDB file
 * (sources/rdb-file.ts). A lost connection is thrown as a PayloadBroken: nothing was applied from it.
 */
export interface PayloadOrigin {
  /** The value's head, or the origin's refusal (an error reply: MOVED, NOPERM, an unknown DUMP). */
  head(): Promise<PayloadHead | { refused: Error }>;
  /** The payload's `head.length` bytes, handed to `take` in pieces, each awaited. */
  forward(take: (piece: Buffer) => Promise<void> | undefined): Promise<void>;
  /** Done with it (read, or not wanted): the origin is free for the next. Called again, nothing happens. */
  close(): void;
}

/** The RESTORE that carries the payload: its key and TTL argument, and the flags after the payload. */
export interface RestoreArgs {
  key: Buffer;
  ttl: number;
  /** REPLACE and ABSTTL, as wanted. */
  flags: string[];
}

export interface PayloadStream {
  origin: PayloadOrigin;
  target: ServerAt;
  /**
   * Given the value's head, the RESTORE to send, or undefined to send nothing (the key is gone, of
   * another type, too large...). Called before any byte reaches the target (the journal is written there).
   */
  plan(head: PayloadHead): Promise<RestoreArgs | undefined>;
  /** Stops the stream before the RESTORE is whole: nothing is applied. */
  signal?: AbortSignal;
}

export type Streamed =
  /** Nothing was sent to the target: `plan` declined this head. */
  | { done: 'declined'; head: PayloadHead }
  /** The origin refused (MOVED, NOPERM, an unknown DUMP): nothing was sent to the target. */
  | { done: 'source refused'; error: Error }
  /** The target's reply to the whole RESTORE: OK, or an error reply. */
  | { done: 'replied'; reply: Error | 'OK' }
  /** A connection failed before the RESTORE was whole: nothing was applied. */
  | { done: 'not sent'; why: string }
  /** The RESTORE was whole, and its reply never came: it may or may not have been applied. */
  | { done: 'unknown'; why: string }
  /** Stopped (the signal) before the RESTORE was whole: nothing was applied. */
  | { done: 'interrupted' };

/** The slowest rate at which a server is expected to DUMP or RESTORE: silence allowed for a big value. */
const SLOWEST_BYTES_PER_SECOND = 8 * 1024 * 1024;

const CRLF = Buffer.from('\r\n');

/** Bytes of payload let wait in the target socket's own buffer before the origin is read on. */
const WRITE_AHEAD = 1024 * 1024;

/** A connection ended, failed or fell silent while the stream needed it: nothing of it was applied. */
export class PayloadBroken extends Error {}
class Interrupted extends Error {}

export async function streamPayload(req: PayloadStream): Promise<Streamed> {
  const { origin } = req;
  let target: net.Socket;
  try {
    target = await open(req.target);
  } catch (err) {
    origin.close();
    return { done: 'not sent', why: `cannot connect to the target: ${(err as Error).message}` };
  }
  let whole = false;
  try {
    // Read from now on: a reply the target sends early (an error, before it closes) is kept, not lost.
    const fromTarget = new RawReplies(target, 'the target', allowance(0, req.target));
    const head = await origin.head();
    if ('refused' in head) return { done: 'source refused', error: head.refused };
    const args = head.length < 0 ? undefined : await req.plan(head);
    if (!args) return { done: 'declined', head };
    target.write(restoreHead(args, head.length));
    await origin.forward((piece) => {
      if (req.signal?.aborted) throw new Interrupted();
      return send(target, piece, req.target.network.commandTimeoutMs);
    });
    // The payload is read: the origin may give the next one while the target restores this one.
    origin.close();
    if (target.destroyed) throw new PayloadBroken('lost the connection to the target');
    target.write(restoreTail(args));
    whole = true;
    fromTarget.silenceMs = allowance(head.length, req.target);
    const reply = await fromTarget.line();
    return { done: 'replied', reply: errorOf(reply) ?? 'OK' };
  } catch (err) {
    if (err instanceof Interrupted) return { done: 'interrupted' };
    if (!(err instanceof PayloadBroken)) throw err;
    return whole ? { done: 'unknown', why: err.message } : { done: 'not sent', why: err.message };
  } finally {
    origin.close();
    target.destroy();
  }
}

/**
 * A server's value as one payload: `PTTL` and `DUMP` pipelined on a connection of its own to `at` (the
 * server that holds `key`), as the small keys' reads ask them (write/read.ts; a `+@read` user may run
 * both, where MULTI needs more), the type read from the payload's first byte (the RDB object type),
 * then the DUMP reply's bytes as they come. `expectedBytes` (MEMORY USAGE) gives the server time to
 * build a large one.
 */
export function serverPayload(at: ServerAt, key: Buffer, expectedBytes: number): PayloadOrigin {
  let socket: net.Socket | undefined;
  let replies: RawReplies | undefined;
  let release: (() => void) | undefined;
  let closed = false;
  let length = 0;
  return {
    async head() {
      // One payload read from a server at a time: a second DUMP would stall the first one's reply.
      release = await takeTurn(at);
      try {
        socket = await open(at);
      } catch (err) {
        throw new PayloadBroken(`cannot connect to the source: ${(err as Error).message}`);
      }
      if (closed) throw new PayloadBroken('closed');
      const sentAt = now();
      socket.write(
        encode([
          ['PTTL', key],
          ['DUMP', key],
        ]),
      );
      replies = new RawReplies(socket, 'the source', allowance(expectedBytes, at));
      const [pttl, dump] = [await replies.line(), await replies.line()];
      const refused = errorOf(pttl) ?? errorOf(dump);
      if (refused) return { refused };
      length = Number(dump.subarray(1));
      if (length < 0) return { type: 'none', pttl: -2, sentAt, length };
      const type = RDB_OBJECT_TYPES[await replies.peek()];
      return { type, pttl: Number(pttl.subarray(1)), sentAt, length };
    },
    forward: (take) => replies!.forward(length, take),
    close() {
      closed = true;
      release?.();
      // Closing drops the rest of a reply that is not wanted.
      socket?.destroy();
    },
  };
}

/**
 * Whose turn it is to read a payload from each server (host:port), across every run of this process.
 * A server runs one command at a time and sends a reply between commands: a second DUMP that starts
 * while the first payload is on its way holds that payload back until it is done, so the target's
 * RESTORE of the first waits too. In turns, the source DUMPs the next value while the target restores
 * the last one.
 */
const turns = new Map<string, Promise<void>>();

export async function takeTurn(server: ServerAt): Promise<() => void> {
  const name = `${server.endpoint.host}:${server.endpoint.port}`;
  const before = turns.get(name) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => {
    done = resolve;
  });
  const queue = before.then(() => mine);
  turns.set(name, queue);
  await before;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    done();
    if (turns.get(name) === queue) turns.delete(name);
  };
}

async function open(server: ServerAt): Promise<net.Socket> {
  const { socket } = await openSession(server.endpoint, server.endpoint, server.network);
  // Failures are seen by the reads and writes that meet them; an 'error' without a listener would throw.
  socket.on('error', () => undefined);
  return socket;
}

/** How long a server may stay silent on a value of `bytes`: the command timeout, plus time for the value. */
function allowance(bytes: number, server: ServerAt): number {
  return server.network.commandTimeoutMs + Math.ceil((Math.max(0, bytes) / SLOWEST_BYTES_PER_SECOND) * 1000);
}

/** The error a reply line holds (`-…`), or undefined. */
function errorOf(line: Buffer): Error | undefined {
  return line[0] === 0x2d /* - */ ? new ReplyError(line.toString('utf8', 1)) : undefined;
}

/** `RESTORE key ttl` and the payload's bulk header: everything before the payload's bytes. */
function restoreHead(args: RestoreArgs, length: number): Buffer {
  const command = encode([['RESTORE', args.key, args.ttl]]);
  const count = Buffer.from(`*${4 + args.flags.length}\r\n`);
  // encode() wrote `*3\r\n` first: the RESTORE has 4 arguments and its flags.
  return Buffer.concat([count, command.subarray(4), Buffer.from(`$${length}\r\n`)]);
}

/** The payload's CRLF, then the flags (REPLACE, ABSTTL) as bulk strings. */
function restoreTail(args: RestoreArgs): Buffer {
  return Buffer.concat([CRLF, ...args.flags.map((flag) => Buffer.from(`$${flag.length}\r\n${flag}\r\n`))]);
}

/**
 * Writes `piece`; past WRITE_AHEAD bytes waiting in the socket's own buffer, waits until it drains (or
 * the connection fails). Node's `write()` says "full" past 16 KiB, one piece of a source's read: waiting
 * on each piece would cost an event-loop turn per 64 KiB of payload.
 */
function send(socket: net.Socket, piece: Buffer, timeoutMs: number): Promise<void> | undefined {
  // A write to a socket that failed is dropped without a word: the failure is told here instead.
  if (socket.destroyed) return Promise.reject(new PayloadBroken('lost the connection to the target'));
  socket.write(piece);
  if (socket.writableLength < WRITE_AHEAD) return undefined;
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      socket.off('drain', drained);
      socket.off('close', closed);
      if (err) reject(err);
      else resolve();
    };
    const drained = (): void => done();
    const closed = (): void => done(new PayloadBroken('the target closed the connection'));
    const timer = setTimeout(
      () => done(new PayloadBroken(`the target took nothing for ${timeoutMs / 1000}s`)),
      timeoutMs,
    );
    socket.on('drain', drained);
    socket.on('close', closed);
  });
}

/**
 * A socket's replies read as bytes: a line at a time for the short replies, and a bulk string's body
 * handed on piece by piece (`forward`). A piece that comes while none is wanted pauses the socket until
 * it is taken, so the socket is read no faster than the pieces are taken. Pieces are handed on as the
 * socket read them (an async iterator over a paused socket joins what it buffered, copying it again).
 */
class RawReplies {
  private readonly queue: Buffer[] = [];
  private rest: Buffer = Buffer.alloc(0);
  private waiter?: { resolve(chunk: Buffer): void; reject(err: Error): void; since: number };
  private failure?: PayloadBroken;
  private lastData = Date.now();
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    private readonly socket: net.Socket,
    private readonly who: string,
    /** How long a piece may be awaited: longer for the reply to a long command. */
    public silenceMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.lastData = Date.now();
      const waiter = this.waiter;
      if (waiter) {
        this.waiter = undefined;
        waiter.resolve(chunk);
      } else {
        this.queue.push(chunk);
        socket.pause();
      }
    });
    socket.on('end', () => this.fail(`${who} closed the connection`));
    socket.on('error', (err) => this.fail(`lost the connection to ${who}: ${err.message}`));
    socket.on('close', () => {
      this.fail(`${who} closed the connection`);
      clearInterval(this.watchdog);
    });
    this.watchdog = setInterval(() => this.checkSilence(), Math.max(50, Math.min(1_000, silenceMs / 4)));
    this.watchdog.unref();
  }

  /** The next byte, left unread. */
  async peek(): Promise<number> {
    while (this.rest.length === 0) this.rest = await this.more();
    return this.rest[0]!;
  }

  /** The next line, without its CRLF. */
  async line(): Promise<Buffer> {
    for (;;) {
      const end = this.rest.indexOf(CRLF);
      if (end >= 0) {
        const line = this.rest.subarray(0, end);
        this.rest = this.rest.subarray(end + 2);
        return line;
      }
      if (this.rest.length > 64 * 1024) throw new PayloadBroken(`${this.who} sent a reply line over 64 KiB`);
      const chunk = await this.more();
      this.rest = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]);
    }
  }

  /** Hands the next `length` bytes to `take` in pieces, waiting on each, then reads the CRLF after them. */
  async forward(length: number, take: (piece: Buffer) => Promise<void> | undefined): Promise<void> {
    for (let left = length; left > 0; ) {
      if (this.rest.length === 0) this.rest = await this.more();
      const piece = this.rest.length <= left ? this.rest : this.rest.subarray(0, left);
      this.rest = this.rest.subarray(piece.length);
      left -= piece.length;
      await take(piece);
    }
    while (this.rest.length < 2) this.rest = Buffer.concat([this.rest, await this.more()]);
    if (this.rest[0] !== 0x0d || this.rest[1] !== 0x0a)
      throw new PayloadBroken(`${this.who} sent a bulk string without its CRLF`);
    this.rest = this.rest.subarray(2);
  }

  /** The next piece the socket read: one already queued, or the next to come. */
  private more(): Promise<Buffer> {
    const queued = this.queue.shift();
    if (queued) {
      if (this.queue.length === 0) this.socket.resume();
      return Promise.resolve(queued);
    }
    if (this.failure) return Promise.reject(this.failure);
    this.socket.resume();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject, since: Date.now() };
    });
  }

  private fail(why: string): void {
    this.failure ??= new PayloadBroken(why);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }

  /** A piece awaited, and nothing came for silenceMs: the server is taken as gone. */
  private checkSilence(): void {
    const waiter = this.waiter;
    if (!waiter || Date.now() - Math.max(this.lastData, waiter.since) < this.silenceMs) return;
    this.waiter = undefined;
    waiter.reject(new PayloadBroken(`${this.who} sent nothing for ${Math.round(this.silenceMs / 1000)}s`));
  }
}
