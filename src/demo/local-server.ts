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
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { installExitHooks, killChild, type Live, live } from './live-servers.js';
import { freePort, LOOPBACK } from './ports.js';
import { answersAs } from './server-answers.js';
import { deathSignalPrefix, majorVersion, resolveBinary } from './server-binary.js';

export { stopAllLocalRedisSync } from './live-servers.js';
export { freeClusterPort, freePort } from './ports.js';
export {
  deathSignalPrefix,
  findRedisServer,
  RedisServerNotFoundError,
  redisServerName,
} from './server-binary.js';

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

const START_ATTEMPTS = 5;
const OUTPUT_TAIL_BYTES = 4_096;

/** A config-file token: `"..."` with the bytes that sdssplitargs treats specially escaped. */
function confQuote(value: string): string {
  return `"${value
    .replace(/[\\"]/g, (ch) => `\\${ch}`)
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')}"`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
    LOOPBACK,
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
  readonly host = LOOPBACK;
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
    return `redis://${auth}${LOOPBACK}:${this.port}/${db}`;
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
