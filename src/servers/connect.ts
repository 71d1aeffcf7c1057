import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { endpointText, type RedisEndpoint } from '../common/endpoint.js';
import { ConnectionError } from '../common/errors.js';
import { classifyReply, replyIs } from './errors/classify.js';
import { describeForeignReply } from './foreign-reply.js';
import { resolveMaster, SentinelLookupError } from './sentinel/lookup.js';
import { DEFAULT_NETWORK, type NetworkOptions } from './socket.js';
import { explainTls } from './tls.js';

export type Role = 'source' | 'target';

const MAX_BACKOFF_MS = 2_000;

/**
 * Opens a connection and proves it usable (PING) before returning, so that an unreachable
 * server or bad credentials are reported before anything is written (SPEC §4, exit 2).
 *
 * Once connected, a dropped connection is retried with backoff for at most `retryBudgetMs`, then the
 * connection ends and every command on it fails. Sources may re-send what was in flight (reads are
 * idempotent, SCAN continues from the same cursor); the target must not: a write whose effect is
 * unknown after a disconnect fails instead of being applied twice (SPEC §1.6, §6.4). Every command
 * has a timeout (`commandTimeoutMs`): a server that stops answering is an error, never a hang.
 */
export async function connect(
  endpoint: RedisEndpoint,
  role: Role,
  label: string = role,
  network: NetworkOptions = DEFAULT_NETWORK,
): Promise<Redis> {
  let ready = false;
  let lostAt: number | undefined;
  const base = toIoredisOptions(endpoint);
  const tls: ConnectionOptions | undefined = endpoint.tls ? { ...network.tls } : undefined;
  const options: RedisOptions = {
    ...base,
    ...(tls ? { tls } : {}),
    lazyConnect: true,
    // We prove the connection ourselves; the ready check asks INFO, which a read-only user may not.
    enableReadyCheck: false,
    connectTimeout: network.connectTimeoutMs,
    commandTimeout: network.commandTimeoutMs,
    enableOfflineQueue: true,
    // A restarted server answers LOADING until its dataset is in memory: the command was not run, so
    // it is sent again once the connection is re-established (with the backoff below).
    reconnectOnError: (err) => (classifyReply(err) === 'loading' ? 2 : false),
    maxRetriesPerRequest: role === 'target' ? 0 : 5,
    autoResendUnfulfilledCommands: role !== 'target',
    // Until the first PING succeeds a failure is final: the user gets one clear line, not a retry loop.
    // After that, reconnection goes on for at most retryBudgetMs since the connection was lost.
    retryStrategy: (attempt) => {
      if (!ready) return null;
      lostAt ??= Date.now();
      const wait = Math.min(50 * 2 ** attempt, MAX_BACKOFF_MS);
      return Date.now() - lostAt + wait > network.retryBudgetMs ? null : wait;
    },
  };
  if (endpoint.sentinel) {
    Object.assign(options, {
      // ioredis asks the sentinels at every (re)connect, so this connection follows a failover. Before
      // the first success a failure is final (resolveMaster below has already said why, in one line).
      sentinelRetryStrategy: (attempt: number) => options.retryStrategy?.(attempt),
      sentinelCommandTimeout: network.connectTimeoutMs,
    } satisfies RedisOptions);
  }
  const redis = new Redis(options);
  let lastError: Error | undefined;
  // ioredis reports connection problems as 'error' events; without a listener it prints them itself.
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  redis.on('ready', () => {
    lostAt = undefined;
  });
  // The first bytes the server sent, to tell a port that speaks something else (HTTP, TLS) by them.
  let firstBytes: Buffer | undefined;
  redis.on('connect', () => {
    if (!ready) redis.stream.once('data', (chunk: Buffer) => (firstBytes ??= chunk));
  });
  const where = `${label} ${endpointText(endpoint)}`;
  let deadline: NodeJS.Timeout | undefined;
  try {
    // Our own lookup first: it tells an unknown master name from sentinels that are down, where ioredis
    // says "All sentinels are unreachable" for both.
    if (endpoint.sentinel) await resolveMaster(endpoint.sentinel, network);
    const proving = (async () => {
      await redis.connect();
      await provenUsable(redis);
      // ioredis selects the db by itself but only emits a failed SELECT as an event: ask again, so that
      // a db out of range is a clear error here (exit 2) instead of a run on the wrong db.
      if (endpoint.db !== 0) await redis.select(endpoint.db);
    })();
    // Settled by the disconnect below when the deadline comes first.
    proving.catch(() => {});
    // One deadline for the whole proof. Each step alone waits up to the command timeout (15 s): ioredis
    // awaits its CLIENT SETINFO before it is ready, then PING, so a port that accepts and never answers
    // took 2 × 15 s. A server that has never answered gets no more than the connect timeout; the retry
    // budget is for one that answered and was lost (retryStrategy above).
    await Promise.race([
      proving,
      new Promise<never>((_, reject) => {
        deadline = setTimeout(
          () => reject(new NoAnswerError(redis.status !== 'connecting')),
          network.connectTimeoutMs,
        );
      }),
    ]);
    ready = true;
    return namingServer(redis, where);
  } catch (err) {
    redis.disconnect();
    // disconnect() only half-closes, and waits 2 s for a silent server to close its side: the process
    // would stay that long after the error.
    redis.stream?.destroy();
    if (err instanceof SentinelLookupError) throw new ConnectionError(`cannot use ${where}: ${err.message}`);
    const foreign = describeForeignReply(firstBytes);
    if (foreign) throw new ConnectionError(`${where} ${foreign}`);
    const seconds = network.connectTimeoutMs / 1000;
    if (err instanceof NoAnswerError && !err.accepted) {
      throw new ConnectionError(
        `cannot reach ${where}: no connection within ${seconds}s; check the host, port and firewall`,
      );
    }
    if (err instanceof NoAnswerError) {
      throw new ConnectionError(
        `${where} accepted the connection but ${firstBytes ? 'did not answer' : 'never answered: not a byte'} within ${seconds}s; is it a Redis server, and is it overloaded or stopped?`,
      );
    }
    const error = err instanceof Error ? err : new Error(String(err));
    const tlsHint = explainTls((lastError ?? error) as Error & { code?: string }, endpoint.tls);
    if (tlsHint) throw new ConnectionError(`cannot connect to ${where}: ${tlsHint}`);
    throw describeConnectFailure(error, lastError, where, network.connectTimeoutMs);
  } finally {
    clearTimeout(deadline);
  }
}

/** The connect timeout passed before the server was proven usable; `accepted`: TCP (and TLS) was up. */
class NoAnswerError extends Error {
  constructor(readonly accepted: boolean) {
    super('no answer within the connect timeout');
  }
}

/** Errors of the connection itself (not replies of the server), which say nothing of which server it was. */
const CONNECTION_ERROR =
  /Command timed out|Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket/i;
const NAMED = Symbol('named');

function nameServer(err: unknown, where: string): unknown {
  if (
    !(err instanceof Error) ||
    (err as { [NAMED]?: boolean })[NAMED] ||
    !CONNECTION_ERROR.test(err.message)
  ) {
    return err;
  }
  const named = new Error(
    `${where}: ${err.message} (no reply within the timeout, or the connection was lost)`,
  );
  (named as { [NAMED]?: boolean })[NAMED] = true;
  return named;
}

/**
 * The connection with its connection-level failures ("Command timed out", "Connection is closed.")
 * rewritten to name the server (password redacted), so that a run stopped by one says which server
 * (SPEC §4). Replies of the server (NOPERM, WRONGTYPE, …) pass unchanged. Pipelines and MULTI get the
 * same treatment for exec() and for the errors inside its results.
 */
function namingServer<T extends object>(target: T, where: string): T {
  const proxy: T = new Proxy(target, {
    get(obj, prop) {
      const value = Reflect.get(obj, prop, obj);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(obj, args);
        if (result === obj) return proxy;
        if (result instanceof Promise) {
          return result.then(
            (r) =>
              prop === 'exec' && Array.isArray(r)
                ? r.map((entry) =>
                    Array.isArray(entry) && entry[0] ? [nameServer(entry[0], where), entry[1]] : entry,
                  )
                : r,
            (err: unknown) => {
              throw nameServer(err, where);
            },
          );
        }
        if (
          result &&
          typeof result === 'object' &&
          typeof (result as { exec?: unknown }).exec === 'function'
        ) {
          return namingServer(result as object, where);
        }
        return result;
      };
    },
  });
  return proxy;
}

/**
 * PING proves the server answers and the credentials hold. A user restricted to +@read may not PING,
 * but a NOPERM reply is itself the proof: it comes after authentication, from a live server.
 */
async function provenUsable(redis: Redis): Promise<void> {
  try {
    await redis.ping();
  } catch (err) {
    if (!replyIs(err, 'noperm')) throw err;
  }
}

function describeConnectFailure(
  err: Error,
  cause: Error | undefined,
  where: string,
  timeoutMs: number,
): ConnectionError {
  const text = `${err.message} ${cause?.message ?? ''}`;
  if (replyIs(err, 'auth') || replyIs(cause, 'auth')) {
    return new ConnectionError(
      `authentication failed for ${where}: check the user name and password in the URL`,
    );
  }
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED')
    return new ConnectionError(
      `cannot reach ${where}: connection refused; is the server running on that host and port?`,
    );
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new ConnectionError(`cannot reach ${where}: unknown host; check the host name`);
  if (/Command timed out/i.test(text))
    return new ConnectionError(
      `${where} accepted the connection but did not answer within ${timeoutMs / 1000}s; is it a Redis server, and is it overloaded or stopped?`,
    );
  if (code === 'ETIMEDOUT' || /timeout/i.test(text))
    return new ConnectionError(
      `cannot reach ${where}: timed out after ${timeoutMs / 1000}s; check the host, port and firewall`,
    );
  if (replyIs(err, 'bad-db') || replyIs(cause, 'bad-db'))
    return new ConnectionError(
      `cannot use ${where}: the database number is out of range on that server; use a db below its \`databases\` setting`,
    );
  return new ConnectionError(`cannot use ${where}: ${(cause ?? err).message.split('\n')[0]}`);
}

/** Closes a connection without waiting for pending replies of a run that is ending. */
export async function close(redis: Redis | undefined): Promise<void> {
  if (!redis) return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

/** The subset of ioredis's `RedisOptions` that a URL determines (structurally compatible with it). */
export interface EndpointOptions {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
  /** A Sentinel-managed master: ioredis asks these sentinels for the master named `name`. */
  sentinels?: { host: string; port: number }[];
  name?: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
}

/** The ioredis connection options an endpoint determines; everything else (retries, timeouts) is the caller's. */
export function toIoredisOptions(e: RedisEndpoint): EndpointOptions {
  const options: EndpointOptions = { host: e.host, port: e.port, db: e.db };
  if (e.username !== undefined) options.username = e.username;
  if (e.password !== undefined) options.password = e.password;
  if (e.tls) options.tls = {};
  if (e.sentinel) {
    options.sentinels = e.sentinel.nodes.map((n) => ({ ...n }));
    options.name = e.sentinel.name;
    if (e.sentinel.username !== undefined) options.sentinelUsername = e.sentinel.username;
    if (e.sentinel.password !== undefined) options.sentinelPassword = e.sentinel.password;
  }
  return options;
}
