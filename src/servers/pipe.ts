import net from 'node:net';
import tls from 'node:tls';
import RedisParser from 'redis-parser';
import { parseRedisUrl, type RedisEndpoint, redactUrl } from '../config/url.js';
import type { Command } from '../write/commands.js';
import { describeForeignReply } from './foreign-reply.js';
import { replicasFromRole } from './role.js';
import { resolveMaster } from './sentinel/lookup.js';

/** A RESP2 reply as the parser gives it: bulk and status strings as Buffers, integers as numbers. */
export type Reply = Buffer | number | null | Reply[] | Error;

/** How long to wait and how long to keep trying (SPEC §4: no input makes kvmerge hang). */
export interface NetworkOptions {
  /** TCP (and TLS) connect plus AUTH/SELECT, per attempt. */
  connectTimeoutMs: number;
  /** Replies are awaited and not one byte came for this long: the server is taken as gone. */
  commandTimeoutMs: number;
  /** After a lost connection, reconnect attempts go on for at most this long. */
  retryBudgetMs: number;
  /** TLS settings for a rediss:// URL (CA, client certificate, verification). */
  tls?: tls.ConnectionOptions;
}

export const DEFAULT_NETWORK: NetworkOptions = {
  connectTimeoutMs: 5_000,
  commandTimeoutMs: 15_000,
  retryBudgetMs: 30_000,
};

const FIRST_BACKOFF_MS = 50;
const WAIT_TIMEOUT_MS = 2_000;
const MAX_BACKOFF_MS = 2_000;

/**
 * The connection dropped after these commands were sent and before all their replies came: `replies`
 * are the ones that did come, in order. The commands after them may or may not have been applied.
 */
export class RepliesLostError extends Error {
  constructor(
    message: string,
    readonly replies: Reply[],
  ) {
    super(message);
    this.name = 'RepliesLostError';
  }
}

/** The server could not be reached again within the retry budget, or answered nothing in time. */
export class ServerLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerLostError';
  }
}

interface Waiting {
  payload: Buffer;
  replies: Reply[];
  expected: number;
  /** May be sent again after a drop (reads, and writes whose repetition changes nothing). */
  resend: boolean;
  /** Written on the current socket (a drop leaves its outcome unknown). */
  sent: boolean;
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
 * Resilience (SPEC §4, §6.4): a dropped connection, or one that owes replies and has received
 * nothing for `commandTimeoutMs`, is reconnected with exponential backoff (re-AUTH, re-SELECT) for at
 * most `retryBudgetMs`. What was in flight then depends on how it was sent:
 * - `send(cmds)` (reads, idempotent writes) is sent again on the new connection;
 * - `send(cmds, { resend: false })` rejects with a RepliesLostError that carries the replies that did
 *   arrive: the caller decides what the rest means (the writer resolves each unit, write/writer.ts),
 *   so a non-idempotent write is never applied twice (SPEC §1.6).
 * Past the budget, everything waiting fails with a ServerLostError naming the server (password
 * redacted), and the run stops with exit 1.
 */
export class RespPipe {
  private readonly waiting: Waiting[] = [];
  private socket?: net.Socket;
  /** Set once the pipe gave up or was closed: every later send fails with it. */
  private failure?: Error;
  private reconnecting?: Promise<void>;
  private lastActivity = 0;
  /** When the current run of failures began (cleared by a reply): the retry budget counts from here. */
  private troubleSince?: number;
  private readonly timer: NodeJS.Timeout;
  private readonly endpoint: RedisEndpoint;
  /** How many times the connection was re-established (for tests and logs). */
  reconnects = 0;
  /**
   * Behind Sentinel: the replicas that the master listed (ROLE) when this connection was made, which a
   * write must reach before it counts as done (the writer WAITs for them). Undefined elsewhere.
   */
  replicas?: number;
  /** Behind Sentinel: the most replicas ROLE has listed for each master (host:port) this pipe reached. */
  private readonly replicasSeen = new Map<string, number>();
  /** When ROLE was last asked for the replicas (refreshReplicas). */
  private replicasCheckedAt = 0;
  /** A READONLY reply came: the socket is dropped once the data in hand is parsed. */
  private demoted = false;
  /** The server the current socket reaches (behind Sentinel, the master it was when connected). */
  private address?: { host: string; port: number };

  private constructor(
    url: string,
    private readonly label: string,
    private readonly net: NetworkOptions,
  ) {
    this.endpoint = parseRedisUrl(url);
    const tick = Math.max(50, Math.min(1_000, Math.floor(net.commandTimeoutMs / 4)));
    this.timer = setInterval(() => this.checkStall(), tick);
    this.timer.unref();
  }

  /** Connects, authenticates and selects the URL's database. The URL has already been proven usable. */
  static async open(
    url: string,
    label: string,
    network: NetworkOptions = DEFAULT_NETWORK,
  ): Promise<RespPipe> {
    const pipe = new RespPipe(url, `${label} ${redactUrl(url)}`, network);
    try {
      await pipe.attach();
    } catch (err) {
      pipe.close();
      const error = new ServerLostError(`cannot reach ${pipe.label}: ${(err as Error).message}`);
      error.cause = err;
      throw error;
    }
    return pipe;
  }

  /**
   * Sends the commands in one write and resolves to their replies in order; error replies are Error
   * values. With `resend: false`, a drop before the last reply rejects with a RepliesLostError.
   */
  send(commands: readonly Command[], opts: { resend?: boolean } = {}): Promise<Reply[]> {
    if (commands.length === 0) return Promise.resolve([]);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const w: Waiting = {
        payload: encode(commands),
        replies: [],
        expected: commands.length,
        resend: opts.resend ?? true,
        sent: false,
        resolve,
        reject,
      };
      if (this.waiting.length === 0) this.lastActivity = Date.now();
      this.waiting.push(w);
      if (this.socket && !this.reconnecting) {
        w.sent = true;
        this.write(this.socket, w.payload);
      }
    });
  }

  /**
   * Writes on the socket, coalescing what is sent within one tick into one system call: the batches
   * in flight answer together (one read from the socket settles several) and send their next round
   * together, and on loopback each write costs a system call and a TCP segment of its own.
   */
  private write(socket: net.Socket, payload: Buffer): void {
    if (!socket.writableCorked) {
      socket.cork();
      process.nextTick(() => socket.uncork());
    }
    socket.write(payload);
  }

  close(): void {
    this.failure ??= new Error(`connection to ${this.label} closed`);
    clearInterval(this.timer);
    this.socket?.destroy();
    this.socket = undefined;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }

  /**
   * Opens a socket, says AUTH/SELECT on it and makes it the current one. Behind Sentinel, the master's
   * address is asked of the sentinels at every attach (so a reconnect follows a failover), and ROLE must
   * say `master`: a demoted master goes on accepting connections, and what is written there is lost
   * once it resynchronises from the new one.
   */
  private async attach(): Promise<void> {
    const e = this.endpoint;
    const timeout = this.net.connectTimeoutMs;
    // Behind Sentinel the lookup also counts the replicas the sentinels list for that master (see below).
    const address = e.sentinel
      ? await resolveMaster(e.sentinel, this.net, true)
      : { host: e.host, port: e.port, replicas: undefined };
    const socket = await connectSocket(address.host, address.port, e.tls, this.net.tls, timeout);
    socket.setNoDelay(true);
    const hello: Command[] = [];
    if (e.password !== undefined)
      hello.push(e.username ? ['AUTH', e.username, e.password] : ['AUTH', e.password]);
    if (e.db !== 0) hello.push(['SELECT', e.db]);
    // PING proves that the server answers (a stalled one fails here, within the connect timeout).
    hello.push(['PING']);
    const optionalFrom = hello.length - 1;
    if (e.sentinel) hello.push(['ROLE']);
    const replies = await handshake(socket, hello, timeout, optionalFrom);
    if (e.sentinel) {
      const replicas = replicasFromRole(replies.at(-1), `${address.host}:${address.port}`);
      if (replicas instanceof Error) {
        socket.destroy();
        throw replicas;
      }
      this.replicas = this.replicasToConfirm(address, replicas ?? 0, address.replicas);
    }
    const parser = new RedisParser({
      returnBuffers: true,
      returnReply: (reply) => this.deliver(reply as Reply),
      returnError: (error) => this.deliver(error),
      returnFatalError: (error) => this.drop(socket, error),
    });
    socket.on('data', (chunk: Buffer) => {
      this.lastActivity = Date.now();
      parser.execute(chunk);
      if (this.demoted) {
        this.demoted = false;
        this.drop(socket, new Error('the server answered READONLY: it is no longer the master'));
      }
    });
    socket.on('error', (err) => this.drop(socket, err));
    socket.on('close', () => this.drop(socket, new Error('connection closed')));
    this.socket = socket;
    this.address = address;
    this.lastActivity = Date.now();
  }

  /**
   * How long a WAIT may block on this connection (behind Sentinel, after each write pipeline): replicas
   * on a healthy link acknowledge in milliseconds, and it must stay well inside the reply timeout, which
   * takes a longer silence for a dead server. Never 0, which would make WAIT block for ever.
   */
  get waitTimeoutMs(): number {
    return Math.max(1, Math.min(WAIT_TIMEOUT_MS, Math.floor(this.net.commandTimeoutMs / 2)));
  }

  /**
   * Behind Sentinel, at most once a second: asks ROLE again and raises `replicas` when the master has
   * more now (a new master has none at first; the old one rejoins it as a replica seconds later). It is
   * never lowered on the same connection: a master that just lost its replica to a promotion must not
   * go on taking writes unconfirmed. A reconnect counts afresh.
   */
  async refreshReplicas(): Promise<void> {
    const spec = this.endpoint.sentinel;
    if (!spec || Date.now() - this.replicasCheckedAt < 1_000) return;
    this.replicasCheckedAt = Date.now();
    const at = this.address;
    const [role] = await this.send([['ROLE']]);
    const listed = replicasFromRole(role, this.label);
    if (typeof listed !== 'number' || !at || at !== this.address) return;
    const named = await resolveMaster(spec, this.net, true).catch(() => undefined);
    if (at !== this.address) return;
    if (named && (named.host !== at.host || named.port !== at.port)) {
      // The sentinels switched: what waits goes to the new master.
      if (this.socket)
        this.drop(this.socket, new Error(`the sentinels now name ${named.host}:${named.port} as the master`));
      return;
    }
    // A failed lookup lowers nothing: the count stays what it was.
    this.replicas = this.replicasToConfirm(at, listed, named?.replicas ?? this.replicas);
  }

  /**
   * How many replicas must acknowledge a write on this master before it counts (SPEC §6.6): as many as
   * it has ever been seen with on this pipe (ROLE), and as many as the sentinels list for it and do not
   * take as down. A replica promoted a moment ago has left its old master's ROLE, but the sentinels list
   * it under the old master until they switch: so the old master, which goes on taking writes until it
   * is demoted (and then drops them in its resynchronisation), confirms none of them. A replica the
   * sentinels take as down stops counting (a dead old master never comes back to confirm), but not below
   * what this master had: one that loses its replicas confirms nothing until they are back.
   */
  private replicasToConfirm(at: { host: string; port: number }, listed: number, sentinels?: number): number {
    const key = `${at.host}:${at.port}`;
    const seen = Math.max(this.replicasSeen.get(key) ?? 0, listed);
    this.replicasSeen.set(key, seen);
    return Math.max(seen, sentinels ?? 0);
  }

  /**
   * Behind Sentinel: when the sentinels now name another master than the one this connection reaches,
   * drops the connection, so that what is waiting goes to the new master. Called when a write was not
   * confirmed: a demoted master keeps its clients (and accepts their writes) until the sentinels
   * reconfigure it, seconds after the switch. A lookup that fails changes nothing.
   */
  async followMaster(): Promise<void> {
    const spec = this.endpoint.sentinel;
    if (!spec || !this.socket || this.failure) return;
    let master: { host: string; port: number };
    try {
      master = await resolveMaster(spec, this.net);
    } catch {
      return;
    }
    const socket = this.socket;
    const at = this.address;
    if (socket && at && (master.host !== at.host || master.port !== at.port)) {
      this.drop(socket, new Error(`the sentinels now name ${master.host}:${master.port} as the master`));
    }
  }

  private deliver(reply: Reply): void {
    this.troubleSince = undefined;
    // Behind Sentinel, READONLY means the master was demoted under us: what follows on this socket is
    // refused too, so the connection is dropped and made again to the master the sentinels name now.
    if (reply instanceof Error && this.endpoint.sentinel && /^READONLY/.test(reply.message)) {
      this.demoted = true;
    }
    const head = this.waiting[0];
    if (!head) return;
    head.replies.push(reply);
    if (head.replies.length === head.expected) {
      this.waiting.shift();
      head.resolve(head.replies);
    }
  }

  /** Replies are owed and nothing came for commandTimeoutMs: the connection is taken as dead. */
  private checkStall(): void {
    if (!this.socket || this.reconnecting || this.failure) return;
    if (!this.waiting.some((w) => w.sent)) return;
    const silent = Date.now() - this.lastActivity;
    if (silent >= this.net.commandTimeoutMs) {
      this.drop(this.socket, new Error(`no reply within ${this.net.commandTimeoutMs / 1000}s`));
    }
  }

  /** The current socket is lost: settle what cannot be re-sent, then reconnect. */
  private drop(socket: net.Socket, err: Error): void {
    if (socket !== this.socket || this.failure) return;
    socket.removeAllListeners('data');
    socket.destroy();
    this.socket = undefined;
    const why = `lost the connection to ${this.label}: ${err.message}`;
    for (let i = 0; i < this.waiting.length; i++) {
      const w = this.waiting[i]!;
      if (!w.sent) continue;
      w.sent = false;
      if (w.resend) {
        w.replies = [];
        continue;
      }
      this.waiting.splice(i--, 1);
      w.reject(new RepliesLostError(why, w.replies));
    }
    this.reconnecting ??= this.reconnect(err).finally(() => {
      this.reconnecting = undefined;
    });
  }

  private async reconnect(cause: Error): Promise<void> {
    // A server that accepts connections and then never answers must not reset the budget each time.
    this.troubleSince ??= Date.now();
    const started = this.troubleSince;
    let last = cause;
    for (let attempt = 0; ; attempt++) {
      const backoff = Math.min(FIRST_BACKOFF_MS * 2 ** attempt, MAX_BACKOFF_MS);
      if (Date.now() - started + backoff > this.net.retryBudgetMs) break;
      await new Promise((r) => setTimeout(r, backoff));
      if (this.failure) return;
      try {
        await this.attach();
        this.reconnects++;
        for (const w of this.waiting) {
          w.sent = true;
          this.socket!.write(w.payload);
        }
        return;
      } catch (err) {
        last = err as Error;
        if (/WRONGPASS|NOAUTH|NOPERM|out of range/i.test(last.message)) break;
      }
    }
    const seconds = Math.round((Date.now() - started) / 1000);
    this.failure = new ServerLostError(
      `lost the connection to ${this.label} and could not reconnect within ${seconds}s ` +
        `(${last.message.split('\n')[0]}); check that the server is up and reachable, then run again`,
    );
    clearInterval(this.timer);
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }
}

/**
 * Sends `commands` on a fresh socket and resolves to their replies, before the pipe's parser takes
 * over. An error reply fails it, but for NOPERM on the commands from `optionalFrom` on, which comes back
 * as an Error reply (a read-only user may not PING: NOPERM still proves a live, authenticated server).
 */
export function handshake(
  socket: net.Socket,
  commands: Command[],
  timeoutMs: number,
  optionalFrom = commands.length,
): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const replies: Reply[] = [];
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', finish);
      socket.removeListener('close', onClose);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(replies);
    };
    const take = (reply: Reply): void => {
      replies.push(reply);
      if (replies.length === commands.length) finish();
    };
    const parser = new RedisParser({
      returnBuffers: true,
      returnReply: (reply) => take(reply as Reply),
      returnError: (error) => {
        if (replies.length >= optionalFrom && /^NOPERM/.test(error.message)) take(error);
        else finish(error);
      },
      // Bytes that are no RESP: say what the port speaks instead, when that can be told.
      returnFatalError: (error) => {
        const foreign = describeForeignReply(first);
        finish(foreign ? new Error(foreign) : error);
      },
    });
    let first: Buffer | undefined;
    const onData = (chunk: Buffer): void => {
      first ??= chunk;
      parser.execute(chunk);
    };
    const onClose = (): void => finish(new Error('connection closed during AUTH/SELECT'));
    const timer = setTimeout(() => finish(new Error(`no reply within ${timeoutMs / 1000}s`)), timeoutMs);
    socket.on('data', onData);
    socket.on('error', finish);
    socket.on('close', onClose);
    socket.write(encode(commands));
  });
}

/** A TCP (or TLS) connection to host:port, within `timeoutMs`. */
export function connectSocket(
  host: string,
  port: number,
  useTls: boolean,
  tlsOptions: tls.ConnectionOptions | undefined,
  timeoutMs: number,
): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const s = useTls
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ...tlsOptions })
      : net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no connection within ${timeoutMs / 1000}s`));
    }, timeoutMs);
    s.once(useTls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      s.destroy();
      reject(err);
    });
  });
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
  // A non-negative integer argument (TTLs, counts, numkeys) is written digit by digit: as a Buffer
  // made from its string it cost an allocation and a native call per key.
  const args: (Buffer | number)[] = new Array(argCount);
  let n = 0;
  for (const cmd of commands) {
    size += 3 + digits(cmd.length);
    for (const arg of cmd) {
      if (typeof arg === 'number' && Number.isSafeInteger(arg) && arg >= 0) {
        args[n++] = arg;
        const width = digits(arg);
        size += 5 + digits(width) + width;
        continue;
      }
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
      const arg = args[n++]!;
      if (typeof arg === 'number') {
        at = header(out, at, 0x24, digits(arg));
        at = writeDigits(out, at, arg);
        out[at++] = 0x0d;
        out[at++] = 0x0a;
        continue;
      }
      const length = arg.length;
      at = header(out, at, 0x24, length);
      if (length < 64) {
        for (let j = 0; j < length; j++) out[at + j] = arg[j]!;
      } else {
        arg.copy(out, at);
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
  at = writeDigits(out, at, n);
  out[at++] = 0x0d;
  out[at++] = 0x0a;
  return at;
}

/** Writes the decimal digits of the non-negative integer `n` at `at`; returns the position after them. */
function writeDigits(out: Buffer, at: number, n: number): number {
  const width = digits(n);
  for (let i = width - 1; i >= 0; i--) {
    out[at + i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return at + width;
}

function digits(n: number): number {
  let width = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    width++;
  }
  return width;
}
