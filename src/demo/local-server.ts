/**
 * Throwaway local redis-server processes, for `kvmerge demo`, the benchmark and the tests.
 *
 * Each server binds 127.0.0.1 on a free port, persists nothing (`--save ''`, `--appendonly no`), works
 * in a fresh temporary directory (removed on stop) and answers DEBUG. Every started server is recorded
 * in a module-level registry and killed when this process exits; on Linux the server also gets SIGKILL
 * through `setpriv --pdeathsig` when the process that started it goes away, even by SIGKILL, so a
 * crashed run never leaves a server behind. With `stopOnSignals` (the default) SIGINT, SIGTERM and SIGHUP
 * kill them too and are then re-raised; a program that handles those signals itself (the CLI, which lets
 * in-flight batches settle on Ctrl-C) turns it off and calls stop().
 *
 * Example:
 *   const server = await startLocalRedis({ password: 's3cret', renameCommands: { RESTORE: '' } });
 *   // … connect to server.url …
 *   await server.stop();
 *
 * Disabling or renaming commands: prefer `renameCommands: { RESTORE: '' }`. The pairs are written as
 * `rename-command RESTORE ""` to a config file, which every Redis version reads the same way. The raw
 * form `args: ['--rename-command', 'RESTORE', '']` (a real empty argument: spawn uses no shell) works
 * too, because redis-server quotes each command-line argument before parsing it; for the same reason
 * `'""'` is NOT empty there: it renames RESTORE to a command literally called `""`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface LocalRedisOptions {
  /** Extra redis-server arguments, e.g. `['--maxmemory', '10mb']`. An empty string is passed as is. */
  args?: string[];
  /** Sets `requirepass`: the default user needs this password, and `url` carries it. */
  password?: string;
  /** `{ RESTORE: '' }` disables RESTORE; `{ DUMP: 'DUMP_X' }` renames DUMP. */
  renameCommands?: Record<string, string>;
  /** The server binary (default: `$KVMERGE_REDIS_SERVER`, then `redis-server` on PATH). */
  bin?: string;
  /**
   * A fixed port (to restart a server where it was), or a picker asked again whenever the port it gave
   * was lost to another process (freeClusterPort for a cluster node); default: a free one.
   */
  port?: number | (() => Promise<number>);
  /** How long to wait for the first answer (default 10 000 ms). */
  startTimeoutMs?: number;
  /** Kill every local server on SIGINT, SIGTERM and SIGHUP, then re-raise the signal (default true). */
  stopOnSignals?: boolean;
}

export interface LocalRedis {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:PORT/0`, or `redis://:PASSWORD@127.0.0.1:PORT/0` with a password. */
  readonly url: string;
  readonly password: string | undefined;
  /** The server's working directory (removed by stop()). */
  readonly dir: string;
  readonly pid: number;
  /** `redis://…/db` for another database, credentials included. */
  urlFor(db: number): string;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** The server binary is not installed (or not where `bin` / `$KVMERGE_REDIS_SERVER` says). */
export class RedisServerNotFoundError extends Error {
  readonly binary: string;
  constructor(binary: string) {
    super(
      `${binary} not found: install it with \`sudo apt-get install -y redis-server\` (Debian/Ubuntu) ` +
        'or `brew install redis`',
    );
    this.name = 'RedisServerNotFoundError';
    this.binary = binary;
  }
}

const HOST = '127.0.0.1';
const START_ATTEMPTS = 5;
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_BYTES = 4_096;

interface Live {
  child?: ChildProcess;
  dir: string;
}

/** Every server started by this process and not yet stopped. */
const live = new Set<Live>();
let exitHookInstalled = false;
let signalHooksInstalled = false;

function installExitHooks(onSignals: boolean): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // 'exit' handlers must be synchronous: SIGKILL and rmSync.
    process.on('exit', stopAllLocalRedisSync);
  }
  if (onSignals && !signalHooksInstalled) {
    signalHooksInstalled = true;
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const onSignal = (): void => {
        stopAllLocalRedisSync();
        process.removeListener(signal, onSignal);
        // Re-raise so the default action (or another handler) still ends the process.
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      };
      process.on(signal, onSignal);
    }
  }
}

/**
 * Kills every local server this process started and still runs, and removes their directories, without
 * waiting: for 'exit' handlers and a forced exit on a second Ctrl-C.
 */
export function stopAllLocalRedisSync(): void {
  for (const entry of live) {
    try {
      entry.child?.kill('SIGKILL');
    } catch {
      // already gone
    }
    try {
      rmSync(entry.dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  live.clear();
}

/** The absolute path of an executable `name` on PATH, or undefined. */
function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The binary that startLocalRedis would run: `bin`, else `$KVMERGE_REDIS_SERVER`, else `redis-server`. */
export function redisServerName(bin?: string): string {
  return bin ?? process.env.KVMERGE_REDIS_SERVER ?? 'redis-server';
}

/**
 * The path of the server binary that startLocalRedis would run, or undefined when it is not installed:
 * a name is looked up on PATH, a path must be executable.
 */
export function findRedisServer(bin?: string): string | undefined {
  const wanted = redisServerName(bin);
  if (!wanted.includes('/')) return which(wanted);
  try {
    accessSync(wanted, fsConstants.X_OK);
    return wanted;
  } catch {
    return undefined;
  }
}

function resolveBinary(bin: string | undefined): string {
  const wanted = redisServerName(bin);
  // A path is passed through: spawning it reports a clearer error (permissions, format) than a lookup.
  if (wanted.includes('/')) return wanted;
  const found = which(wanted);
  if (!found) throw new RedisServerNotFoundError(wanted);
  return found;
}

const majorVersions = new Map<string, number>();

/** The major version of a server binary (`redis-server --version` prints `v=7.0.15`); 0 if unknown. */
function majorVersion(bin: string): number {
  let major = majorVersions.get(bin);
  if (major === undefined) {
    const out = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout ?? '';
    major = Number(/\bv=(\d+)\./.exec(out)?.[1] ?? 0);
    majorVersions.set(bin, major);
  }
  return major;
}

let pdeathsigPrefix: string[] | undefined;

/**
 * `['setpriv', '--pdeathsig', 'KILL', '--']` where util-linux supports it, else nothing: a server started
 * behind it dies with the process that started it, even on SIGKILL (the test harness starts Pika so too).
 */
export function deathSignalPrefix(): string[] {
  if (pdeathsigPrefix) return pdeathsigPrefix;
  pdeathsigPrefix = [];
  const setpriv = process.platform === 'linux' ? which('setpriv') : undefined;
  if (setpriv && spawnSync(setpriv, ['--pdeathsig', 'KILL', '--', 'true']).status === 0) {
    pdeathsigPrefix = [setpriv, '--pdeathsig', 'KILL', '--'];
  }
  return pdeathsigPrefix;
}

/**
 * A free port whose cluster bus port (port + 10000) is free too, for a node of a Redis Cluster: picked
 * at random below 55536, where both fit.
 */
export async function freeClusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await isFree(port)) && (await isFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair (port and port + 10000) for a cluster node');
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, HOST, () => srv.close(() => resolve(true)));
  });
}

/** A port that was free a moment ago (the OS picks it; the server may still lose a race for it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

/** A config-file token: `"..."` with the bytes that sdssplitargs treats specially escaped. */
function confQuote(value: string): string {
  return `"${value
    .replace(/[\\"]/g, (ch) => `\\${ch}`)
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')}"`;
}

function respCommand(args: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Whether the server on `port` answers and is process `pid`: `INFO server` over a raw socket (AUTH first
 * when a password is set). The process id matters: while a server that lost the race for its port is
 * still starting up, another test's server on that port would answer a PING.
 */
function answersAs(
  port: number,
  pid: number | undefined,
  password: string | undefined,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    let received = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('connect', () => {
      const commands = password === undefined ? [] : [respCommand(['AUTH', password])];
      commands.push(respCommand(['INFO', 'server']));
      socket.write(Buffer.concat(commands));
    });
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.startsWith('-') || received.includes('\r\n-')) return done(false);
      const id = /process_id:(\d+)\r\n/.exec(received)?.[1];
      if (id !== undefined) done(id === String(pid));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (await waitForExit(child, STOP_GRACE_MS)) return;
  child.kill('SIGKILL');
  await waitForExit(child, STOP_GRACE_MS);
}

class PortInUse extends Error {}

interface Launched {
  child: ChildProcess;
  port: number;
}

async function launch(
  bin: string,
  dir: string,
  confFile: string,
  opts: LocalRedisOptions,
  entry: Live,
): Promise<Launched> {
  const port = typeof opts.port === 'number' ? opts.port : await (opts.port ?? freePort)();
  const serverArgs = [
    confFile,
    '--port',
    String(port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    // DEBUG is always allowed before Redis 7, which added this switch.
    ...(majorVersion(bin) >= 7 ? ['--enable-debug-command', 'yes'] : []),
    '--daemonize',
    'no',
    ...(opts.password === undefined ? [] : ['--requirepass', opts.password]),
    ...(opts.args ?? []),
  ];
  const prefix = deathSignalPrefix();
  const [command, ...commandArgs] = [...prefix, bin, ...serverArgs] as [string, ...string[]];
  // The server writes to a log file, not to pipes: nothing has to drain it, and nothing of it keeps this
  // process alive. detached: a Ctrl-C in the terminal goes to the whole foreground process group, and the
  // servers must not die with it before the program that owns them is done with them.
  const logFile = path.join(dir, 'redis.log');
  const log = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(command, commandArgs, { cwd: dir, stdio: ['ignore', log, log], detached: true });
  } finally {
    closeSync(log);
  }
  entry.child = child;
  live.add(entry);

  let spawnError: Error | undefined;
  child.on('error', (err) => {
    spawnError = err;
  });
  const output = (): string => {
    try {
      return readFileSync(logFile, 'utf8').slice(-OUTPUT_TAIL_BYTES);
    } catch {
      return '';
    }
  };

  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  const tail = (): string => output().trim().split('\n').slice(-15).join('\n');
  for (;;) {
    if (spawnError) throw new Error(`could not run ${bin}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      if (/address already in use/i.test(output())) throw new PortInUse(`port ${port} in use`);
      const how = child.exitCode !== null ? `exit code ${child.exitCode}` : `signal ${child.signalCode}`;
      throw new Error(`redis-server exited during startup (${how}) on port ${port}:\n${tail()}`);
    }
    if (await answersAs(port, child.pid, opts.password, 500)) return { child, port };
    if (Date.now() > deadline) {
      await killChild(child);
      throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms:\n${tail()}`);
    }
    await sleep(25);
  }
}

/**
 * Starts a redis-server on a free loopback port and resolves once it answers (as itself, not another server on its port). Throws
 * RedisServerNotFoundError when the binary is not installed, and an Error with the tail of the
 * server's output when it does not start.
 */
export async function startLocalRedis(opts: LocalRedisOptions = {}): Promise<LocalRedis> {
  const bin = resolveBinary(opts.bin);
  installExitHooks(opts.stopOnSignals ?? true);
  const dir = await mkdtemp(path.join(tmpdir(), 'kvmerge-redis-'));
  const entry: Live = { dir };
  try {
    const confFile = path.join(dir, 'redis.conf');
    const conf = Object.entries(opts.renameCommands ?? {}).map(
      ([name, to]) => `rename-command ${confQuote(name)} ${confQuote(to)}\n`,
    );
    await writeFile(confFile, conf.join(''));

    let launched: Launched | undefined;
    for (let attempt = 1; !launched; attempt++) {
      try {
        launched = await launch(bin, dir, confFile, opts, entry);
      } catch (err) {
        if (!(err instanceof PortInUse) || attempt >= START_ATTEMPTS) throw err;
        live.delete(entry);
      }
    }
    // The server must not keep this process alive: stop() and the exit hook end it.
    launched.child.unref();
    return new LocalRedisProcess(launched.child, launched.port, dir, opts.password, entry);
  } catch (err) {
    if (entry.child) await killChild(entry.child);
    live.delete(entry);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

class LocalRedisProcess implements LocalRedis {
  readonly host = HOST;
  readonly url: string;
  readonly pid: number;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
    readonly password: string | undefined,
    private readonly entry: Live,
  ) {
    this.pid = child.pid ?? -1;
    this.url = this.urlFor(0);
  }

  urlFor(db: number): string {
    const auth = this.password === undefined ? '' : `:${encodeURIComponent(this.password)}@`;
    return `redis://${auth}${HOST}:${this.port}/${db}`;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await killChild(this.child);
      live.delete(this.entry);
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}
