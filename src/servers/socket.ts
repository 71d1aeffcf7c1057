import net from 'node:net';
import tls from 'node:tls';
import type { RedisEndpoint } from '../common/endpoint.js';
import { classifyReply } from './errors/classify.js';
import type { ServerEvents } from './events.js';
import { describeForeignReply } from './foreign-reply.js';
import { type Command, encode, type Reply, replyDecoder } from './resp.js';

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
  /** The run's event channel: reconnections, failovers, topology changes and bytes sent are said there. */
  events?: ServerEvents;
}

export const DEFAULT_NETWORK: NetworkOptions = {
  connectTimeoutMs: 5_000,
  commandTimeoutMs: 15_000,
  retryBudgetMs: 30_000,
};

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
    const parser = replyDecoder({
      reply: take,
      error: (error) => {
        if (replies.length >= optionalFrom && classifyReply(error) === 'noperm') take(error);
        else finish(error);
      },
      // Bytes that are no RESP: say what the port speaks instead, when that can be told.
      fatal: (error) => {
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
 * A connection to `address` with the session `endpoint` asks for: AUTH, SELECT, then PING (which proves
 * that the server answers, within the connect timeout), then `vetting` (NOPERM on it is a reply, not a
 * failure). Resolves to the socket, ready for commands, and the replies to `vetting`.
 */
export async function openSession(
  address: { host: string; port: number },
  endpoint: RedisEndpoint,
  network: NetworkOptions,
  vetting: readonly Command[] = [],
): Promise<{ socket: net.Socket; vetted: Reply[] }> {
  const timeout = network.connectTimeoutMs;
  const socket = await connectSocket(address.host, address.port, endpoint.tls, network.tls, timeout);
  socket.setNoDelay(true);
  const hello: Command[] = [];
  if (endpoint.password !== undefined)
    hello.push(
      endpoint.username ? ['AUTH', endpoint.username, endpoint.password] : ['AUTH', endpoint.password],
    );
  if (endpoint.db !== 0) hello.push(['SELECT', endpoint.db]);
  hello.push(['PING']);
  const optionalFrom = hello.length - 1;
  const replies = await handshake(socket, [...hello, ...vetting], timeout, optionalFrom);
  return { socket, vetted: replies.slice(hello.length) };
}
