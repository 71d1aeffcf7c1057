/**
 * Real redis-server processes for tests: no Docker, no mocks.
 *
 * The process management (free ports, PING wait, config file, cleanup on exit, Ctrl-C or the death of
 * the test process) is the product's own local-server launcher (src/demo/local-server.ts), which the
 * demo and the benchmark use too. This layer adds what only tests need: ioredis clients that stop() closes,
 * ACL users, and `digest()`.
 *
 * Example:
 *   const server = await startRedis({ password: 's3cret', renameCommands: { RESTORE: '' } });
 *   await server.client().set('k', 'v');
 *   await server.stop();
 *
 * Disabling or renaming commands: prefer `renameCommands: { RESTORE: '' }` (see local-server.ts for
 * why `args: ['--rename-command', 'RESTORE', '']` works too and `'""'` does not mean empty).
 */
import { Redis, type RedisOptions } from 'ioredis';
import {
  type LocalRedis,
  type LocalRedisOptions,
  RedisServerNotFoundError,
  startLocalRedis,
} from '../../src/demo/local-server.js';
import { startLocalPika } from './pika.js';
import { DEFAULT_SERVER, isPika, locateServer, type TestServer } from './servers.js';

export interface StartRedisOptions extends Omit<LocalRedisOptions, 'stopOnSignals'> {
  /**
   * Which build to start (servers.ts): Debian's redis-server by default, or one of ../shared/servers
   * (a Pika takes no other option here).
   */
  server?: TestServer;
  /**
   * Users created once the server is up, one `ACL SETUSER` argument list per entry: either a line
   * split on whitespace (`'reader on >pw ~* +@read -@write'`) or the arguments themselves.
   */
  aclUsers?: (string | string[])[];
}

export interface RedisServer extends LocalRedis {
  /** A new ioredis connection (default password applied unless overridden), closed by stop(). */
  client(db?: number, options?: RedisOptions): Redis;
  /** Closes the clients, then stops the server (SIGTERM, SIGKILL after 5 s). Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts a redis-server and resolves once it answers PING. */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const { aclUsers, server: build = DEFAULT_SERVER, ...launchOptions } = opts;
  let local: LocalRedis;
  try {
    if (build !== DEFAULT_SERVER) {
      const found = locateServer(build);
      if ('missing' in found) throw new Error(`${build}: ${found.missing}`);
      if (isPika(build)) local = await startLocalPika(found.bin);
      else local = await startLocalRedis({ ...launchOptions, bin: found.bin, stopOnSignals: true });
    } else local = await startLocalRedis({ ...launchOptions, stopOnSignals: true });
  } catch (err) {
    if (err instanceof RedisServerNotFoundError) {
      throw new Error(`${err.binary} not found: apt-get install -y redis-server`);
    }
    throw err;
  }
  const server = new Server(local);
  try {
    for (const user of aclUsers ?? []) {
      const args = typeof user === 'string' ? user.trim().split(/\s+/) : user;
      await server.admin().call('ACL', 'SETUSER', ...args);
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

class Server implements RedisServer {
  readonly host = '127.0.0.1' as const;
  private readonly clients = new Set<Redis>();
  private adminClient: Redis | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly local: LocalRedis) {}

  get port(): number {
    return this.local.port;
  }
  get url(): string {
    return this.local.url;
  }
  get password(): string | undefined {
    return this.local.password;
  }
  get dir(): string {
    return this.local.dir;
  }
  get pid(): number {
    return this.local.pid;
  }

  urlFor(db: number): string {
    return this.local.urlFor(db);
  }

  client(db = 0, options: RedisOptions = {}): Redis {
    if (this.stopping) throw new Error(`redis-server on port ${this.port} is stopped`);
    const client = new Redis({ host: this.host, port: this.port, db, password: this.password, ...options });
    // A test that forgets to handle a connection error must not crash the worker on stop().
    client.on('error', () => {});
    this.clients.add(client);
    client.once('end', () => this.clients.delete(client));
    return client;
  }

  /** One shared connection for the harness's own commands (digest, ACL setup). */
  admin(): Redis {
    this.adminClient ??= this.client(0);
    return this.adminClient;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const client of this.clients) client.disconnect();
      this.clients.clear();
      await this.local.stop();
    })();
    return this.stopping;
  }
}

/** `DEBUG DIGEST`: a hash of the whole dataset (every db), equal on two servers with equal data. */
export async function digest(server: RedisServer): Promise<string> {
  const admin = server instanceof Server ? server.admin() : server.client();
  const value = await admin.call('DEBUG', 'DIGEST');
  if (!(server instanceof Server)) admin.disconnect();
  return String(value);
}

/** Starts `n` servers (same options), runs `fn`, and stops them all whatever `fn` does. */
export async function withRedis<T>(
  n: number,
  fn: (servers: RedisServer[]) => Promise<T>,
  opts?: StartRedisOptions,
): Promise<T> {
  const started = await Promise.allSettled(Array.from({ length: n }, () => startRedis(opts)));
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return await fn(servers);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}
