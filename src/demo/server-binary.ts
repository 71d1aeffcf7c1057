/** Which redis-server binary a local server runs, its major version, and how it dies with its parent. */
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';

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

/** The binary to run: a path as given, a name looked up on PATH (RedisServerNotFoundError if absent). */
export function resolveBinary(bin: string | undefined): string {
  const wanted = redisServerName(bin);
  // A path is passed through: spawning it reports a clearer error (permissions, format) than a lookup.
  if (wanted.includes('/')) return wanted;
  const found = which(wanted);
  if (!found) throw new RedisServerNotFoundError(wanted);
  return found;
}

const majorVersions = new Map<string, number>();

/** The major version of a server binary (`redis-server --version` prints `v=7.0.15`); 0 if unknown. */
export function majorVersion(bin: string): number {
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
