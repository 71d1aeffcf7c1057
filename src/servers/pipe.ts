import type net from 'node:net';
import { endpointText, type RedisEndpoint } from '../common/endpoint.js';
import { type Address, type Connector, directConnector, type PipeHandle } from './connector.js';
import { replyIs } from './errors/classify.js';
import { type Command, encode, type Reply, replyDecoder } from './resp.js';
import { SentinelConnector } from './sentinel/connector.js';
import { DEFAULT_NETWORK, type NetworkOptions, openSession } from './socket.js';
import type { FailoverWatch, ServerAt } from './transport.js';

const FIRST_BACKOFF_MS = 50;
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
export class RespPipe implements PipeHandle {
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
  private readonly connector: Connector;
  /** How many times the connection was re-established (for tests and logs). */
  reconnects = 0;
  /**
   * Behind Sentinel: the replicas a write must reach before it counts as done on the master that
   * survives a failover (the writer WAITs for them). Undefined elsewhere.
   */
  readonly failover?: FailoverWatch;
  /** The connector said to leave this server (READONLY): the socket is dropped once the data in hand is parsed. */
  private demoted = false;
  /** The server the current socket reaches (behind Sentinel, the master it was when connected). */
  private current?: Address;

  private constructor(
    endpoint: RedisEndpoint,
    readonly label: string,
    private readonly net: NetworkOptions,
  ) {
    this.endpoint = endpoint;
    if (endpoint.sentinel) {
      const sentinel = new SentinelConnector(endpoint.sentinel, net, this);
      this.connector = sentinel;
      this.failover = sentinel;
    } else this.connector = directConnector(endpoint.host, endpoint.port);
    const tick = Math.max(50, Math.min(1_000, Math.floor(net.commandTimeoutMs / 4)));
    this.timer = setInterval(() => this.checkStall(), tick);
    this.timer.unref();
  }

  /** Connects, authenticates and selects the URL's database. The URL has already been proven usable. */
  static async open(
    endpoint: RedisEndpoint,
    label: string,
    network: NetworkOptions = DEFAULT_NETWORK,
  ): Promise<RespPipe> {
    const pipe = new RespPipe(endpoint, `${label} ${endpointText(endpoint)}`, network);
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
    this.net.events?.sent(this.label, payload.length);
  }

  /** Says the reconnection on the run's event channel: a failover when it reached another master. */
  private announce(cause: Error, before: Address | undefined): void {
    const events = this.net.events;
    const now = this.current;
    if (!events) return;
    events.emit({ kind: 'reconnect', server: this.label, reason: cause.message.split('\n')[0]! });
    if (this.failover && before && now && (before.host !== now.host || before.port !== now.port)) {
      const to = `${now.host}:${now.port}`;
      events.emit({ kind: 'failover', server: this.label, from: `${before.host}:${before.port}`, to });
    }
  }

  close(): void {
    this.giveUp(new Error(`connection to ${this.label} closed`));
  }

  /** The address of the current connection (a new object for each), for the connector. */
  get address(): Address | undefined {
    return this.current;
  }

  /** The server of the current connection, whatever key (a standalone server, or behind Sentinel the master). */
  serverOf(): ServerAt | undefined {
    const at = this.current;
    if (!at || !this.socket || this.failure) return undefined;
    const { sentinel: _, ...session } = this.endpoint;
    return { endpoint: { ...session, host: at.host, port: at.port }, network: this.net };
  }

  get connected(): boolean {
    return this.socket !== undefined && this.failure === undefined;
  }

  /** Drops the current connection, if there is one: what waits is sent again on the next. */
  leave(why: string): void {
    if (this.socket) this.drop(this.socket, new Error(why));
  }

  /**
   * Opens a socket to where the connector says, says AUTH/SELECT on it and makes it the current one.
   * The connector vets the server first (behind Sentinel, ROLE must say `master`).
   */
  private async attach(): Promise<void> {
    const address = await this.connector.locate();
    const { socket, vetted } = await openSession(address, this.endpoint, this.net, this.connector.vetting);
    try {
      this.connector.vet(address, vetted);
    } catch (err) {
      socket.destroy();
      throw err;
    }
    const parser = replyDecoder({
      reply: (reply) => this.deliver(reply),
      error: (error) => this.deliver(error),
      // Bytes that are no RESP: sent again, the same commands would get the same answer, so the pipe
      // gives up at once rather than reconnecting in a loop.
      fatal: (error) => {
        if (socket !== this.socket) return;
        this.giveUp(
          new ServerLostError(
            `cannot read the replies of ${this.label} (${error.message}); check that the URL names a Redis-protocol server`,
          ),
        );
      },
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
    this.current = address;
    this.lastActivity = Date.now();
  }

  private deliver(reply: Reply): void {
    this.troubleSince = undefined;
    // Behind Sentinel, READONLY means the master was demoted under us: what follows on this socket is
    // refused too, so the connection is dropped and made again to the master the sentinels name now.
    if (reply instanceof Error && this.connector.leaves(reply)) this.demoted = true;
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
        const before = this.current;
        await this.attach();
        this.reconnects++;
        this.announce(cause, before);
        for (const w of this.waiting) {
          w.sent = true;
          this.net.events?.sent(this.label, w.payload.length);
          this.socket!.write(w.payload);
        }
        return;
      } catch (err) {
        last = err as Error;
        if (replyIs(last, 'auth', 'noperm', 'bad-db') || this.connector.hopeless(last)) break;
      }
    }
    const seconds = Math.round((Date.now() - started) / 1000);
    this.giveUp(
      new ServerLostError(
        `lost the connection to ${this.label} and could not reconnect within ${seconds}s ` +
          `(${last.message.split('\n')[0]}); check that the server is up and reachable, then run again`,
      ),
    );
  }

  /** Nothing more will be sent: what waits, and every later send, fails with `error`. */
  private giveUp(error: Error): void {
    this.failure ??= error;
    clearInterval(this.timer);
    this.socket?.removeAllListeners('data');
    this.socket?.destroy();
    this.socket = undefined;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }
}
