/**
 * Shared setup for the merge integration tests: one target and N sources started once per file, and
 * a merge run from a config document (SPEC §3.1 shape) through the public API.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import {
  type CliOverrides,
  type JsonReport,
  type MergePlan,
  resolvePlan,
  runMerge,
} from '../../src/index.js';
import type { TypeName } from './data.js';
import { type RedisServer, type StartRedisOptions, startRedis } from './redis.js';
import { isPika } from './servers.js';

/**
 * Empties db 0 of a Pika with DEL instead of FLUSHALL: Pika 4 answers FLUSHALL at once and then drops
 * and reopens its eight databases in the background, and commands that arrive meanwhile on a loaded
 * machine were seen to stall for tens of seconds.
 */
async function emptyPika(r: Redis): Promise<void> {
  const keys = await r.keysBuffer('*');
  for (let i = 0; i < keys.length; i += 500) await r.del(...keys.slice(i, i + 500));
}

/** A merge configuration in the SPEC §3.1 shape; sources and target are filled in from the servers. */
export interface MergeConfig {
  strategies?: Partial<Record<'default' | TypeName, string>>;
  typeMismatch?: string;
  match?: string;
  merge?: Partial<Record<'hashField' | 'zsetScore' | 'list' | 'ttl', string>>;
  write?: Partial<
    Record<'mode', string> &
      Record<
        'concurrency' | 'batchSize' | 'scanCount' | 'bigKeyElements' | 'bigKeyBytes' | 'payloadMaxBytes',
        number
      >
  >;
  /** Per-source fields (by position), merged over the defaults { url, name: s1, s2, … }. */
  sources?: { url?: string; name?: string; match?: string; prefix?: string }[];
  target?: { url: string };
  report?: { sample?: number };
}

export interface Servers {
  target: RedisServer;
  sources: RedisServer[];
  /** A client of the target (db 0). */
  t: Redis;
  /** A client of each source (db 0). */
  s: Redis[];
  /** The config document (SPEC §3.1 shape) for these servers. */
  doc(config?: MergeConfig): Record<string, unknown>;
  plan(config?: MergeConfig, overrides?: CliOverrides): MergePlan;
  /** Resolves the plan and runs the merge. */
  merge(config?: MergeConfig, overrides?: CliOverrides): Promise<JsonReport>;
  /** FLUSHALL on every server. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startServers(
  sourceCount: number,
  opts: { target?: StartRedisOptions; source?: StartRedisOptions } = {},
): Promise<Servers> {
  const started = await Promise.allSettled([
    startRedis(opts.target),
    ...Array.from({ length: sourceCount }, () => startRedis(opts.source)),
  ]);
  const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(ok.map((s) => s.stop()));
    throw failed.reason;
  }
  const [target, ...sources] = ok as [RedisServer, ...RedisServer[]];
  const t = target.client();
  const s = sources.map((server) => server.client());
  const doc = (config: MergeConfig = {}): Record<string, unknown> => {
    const { sources: perSource, ...rest } = config;
    return {
      version: 1,
      sources: sources.map((server, i) => ({
        url: server.url,
        name: `s${i + 1}`,
        ...(perSource?.[i] ?? {}),
      })),
      target: { url: target.url },
      ...rest,
    };
  };
  const plan = (config?: MergeConfig, overrides: CliOverrides = {}): MergePlan =>
    resolvePlan(doc(config), overrides, {});
  return {
    target,
    sources,
    t,
    s,
    doc,
    plan,
    merge: (config, overrides) => runMerge(plan(config, overrides)),
    flush: async () => {
      const pika = [
        isPika(opts.target?.server ?? 'redis'),
        ...s.map(() => isPika(opts.source?.server ?? 'redis')),
      ];
      await Promise.all([t, ...s].map((c, i) => (pika[i] ? emptyPika(c) : c.flushall())));
    },
    stop: async () => {
      await Promise.all(ok.map((server) => server.stop()));
    },
  };
}

/**
 * Registers the hooks of a test file that uses servers: start them once, FLUSHALL before each test
 * (unless `flushEach` is false), stop them at the end. The returned object is filled in by beforeAll.
 */
export function useServers(
  sourceCount: number,
  opts: { target?: StartRedisOptions; source?: StartRedisOptions } = {},
  { flushEach = true } = {},
): Servers {
  const servers = {} as Servers;
  beforeAll(async () => {
    Object.assign(servers, await startServers(sourceCount, opts));
  });
  afterAll(async () => {
    await servers.stop?.();
  });
  if (flushEach) {
    beforeEach(async () => {
      await servers.flush();
    });
  }
  return servers;
}
