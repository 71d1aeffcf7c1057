/**
 * The server builds that the cross-server tests run against (Pika 4.0.1 and 3.5.5, Redis 6.2.16,
 * 7.4.1, 8.0-m01, Valkey 8.0.1), found through one variable: `KVMERGE_TEST_SERVERS`, by default
 * `../shared/servers` beside the repository. A test file asks `locateServer(name)`; where the binary
 * is missing, it skips with one line that says which binary and why (`describeServer`). CI has
 * `../shared`, so there they run.
 *
 * Example:
 *   describeServer('pika-4.0.1', 'Pika 4 as target', () => { … startRedis({ server: 'pika-4.0.1' }) … });
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

/** Debian's redis-server 7.0.15 from PATH: the default of every test. */
export const DEFAULT_SERVER = 'redis';

export const PIKA_SERVERS = ['pika-4.0.1', 'pika-3.5.5'] as const;
export const REDIS_SERVERS = ['redis-6.2.16', 'redis-7.4.1', 'redis-8.0-m01', 'valkey-8.0.1'] as const;
export type PikaServer = (typeof PIKA_SERVERS)[number];
export type VersionedRedis = (typeof REDIS_SERVERS)[number];
export type TestServer = typeof DEFAULT_SERVER | PikaServer | VersionedRedis;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The folder that holds the server builds. */
export function testServersDir(): string {
  return path.resolve(repoRoot, process.env.KVMERGE_TEST_SERVERS ?? '../shared/servers');
}

export function isPika(server: TestServer): server is PikaServer {
  return (PIKA_SERVERS as readonly string[]).includes(server);
}

/** The executable that starts `server` (pika-run for Pika), or why it cannot be had. */
export function locateServer(server: TestServer): { bin: string } | { missing: string } {
  if (server === DEFAULT_SERVER) return { bin: process.env.KVMERGE_REDIS_SERVER ?? 'redis-server' };
  const file = isPika(server) ? 'pika-run' : server.startsWith('valkey') ? 'valkey-server' : 'redis-server';
  const bin = path.join(testServersDir(), server, file);
  try {
    accessSync(bin, constants.X_OK);
    return { bin };
  } catch {
    return {
      missing: `${bin} is not there or not executable (set KVMERGE_TEST_SERVERS to the folder of the server builds)`,
    };
  }
}

/** `describe` that runs only where every named server binary exists, and says on stderr which is missing. */
export function describeServer(servers: TestServer | TestServer[], title: string, fn: () => void): void {
  const wanted = Array.isArray(servers) ? servers : [servers];
  const missing = wanted.flatMap((s) => {
    const found = locateServer(s);
    return 'missing' in found ? [`${s}: ${found.missing}`] : [];
  });
  if (missing.length > 0) console.warn(`skipped "${title}": ${missing.join('; ')}`);
  describe.skipIf(missing.length > 0)(title, fn);
}
