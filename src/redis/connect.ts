import { Redis, type RedisOptions } from 'ioredis';
import { ConnectionError } from '../errors.js';
import { parseRedisUrl, redactUrl, toIoredisOptions } from './url.js';

export type Role = 'source' | 'target';

const CONNECT_TIMEOUT_MS = 5_000;
const MAX_BACKOFF_MS = 2_000;

/**
 * Opens a connection and proves it usable (PING) before returning, so that an unreachable
 * server or bad credentials are reported before anything is written (SPEC §4, exit 2).
 *
 * Once connected, a dropped connection is retried with backoff. Sources may re-send what was
 * in flight (reads are idempotent); the target must not: a write whose effect is unknown after a
 * disconnect fails instead of being applied twice (SPEC §1.6, §6.4).
 */
export async function connect(url: string, role: Role, label: string = role): Promise<Redis> {
  const endpoint = parseRedisUrl(url, role === 'target' ? 'target.url' : 'sources[].url');
  let ready = false;
  const options: RedisOptions = {
    ...toIoredisOptions(endpoint),
    lazyConnect: true,
    // We prove the connection ourselves; the ready check asks INFO, which a read-only user may not.
    enableReadyCheck: false,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableOfflineQueue: true,
    maxRetriesPerRequest: role === 'target' ? 0 : 5,
    autoResendUnfulfilledCommands: role !== 'target',
    // Until the first PING succeeds a failure is final: the user gets one clear line, not a retry loop.
    retryStrategy: (attempt) => (ready ? Math.min(50 * 2 ** attempt, MAX_BACKOFF_MS) : null),
  };
  const redis = new Redis(options);
  let lastError: Error | undefined;
  // ioredis reports connection problems as 'error' events; without a listener it prints them itself.
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  const where = `${label} ${redactUrl(url)}`;
  try {
    await redis.connect();
    await provenUsable(redis);
    ready = true;
    return redis;
  } catch (err) {
    redis.disconnect();
    throw describeConnectFailure(err instanceof Error ? err : new Error(String(err)), lastError, where);
  }
}

/**
 * PING proves the server answers and the credentials hold. A user restricted to +@read may not PING,
 * but a NOPERM reply is itself the proof: it comes after authentication, from a live server.
 */
async function provenUsable(redis: Redis): Promise<void> {
  try {
    await redis.ping();
  } catch (err) {
    if (!(err instanceof Error && /^NOPERM/.test(err.message))) throw err;
  }
}

function describeConnectFailure(err: Error, cause: Error | undefined, where: string): ConnectionError {
  const text = `${err.message} ${cause?.message ?? ''}`;
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(text)) {
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
  if (code === 'ETIMEDOUT' || /timeout/i.test(text))
    return new ConnectionError(
      `cannot reach ${where}: timed out after ${CONNECT_TIMEOUT_MS / 1000}s; check the host, port and firewall`,
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
