/**
 * Shared setup for the merge integration tests: one target and N sources started once per file,
 * a way to write typed values, read them back in a comparable shape, and run a merge from a config
 * document (SPEC §3.1 shape) through the public API.
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
import type { Counts } from '../../src/report/counters.js';
import { emptyCounts } from '../../src/report/counters.js';
import { type RedisServer, type StartRedisOptions, startRedis } from './redis.js';
import { isPika } from './servers.js';

export type Bytes = string | Buffer;

/** A value as a test writes it and as readValue() gives it back. */
export type Value =
  | { type: 'none' }
  | { type: 'string'; value: Bytes }
  | { type: 'hash'; value: [Bytes, Bytes][] }
  | { type: 'set'; value: Bytes[] }
  | { type: 'zset'; value: [Bytes, number][] }
  | { type: 'list'; value: Bytes[] }
  | { type: 'stream'; value: [string, Bytes[]][] };

export const str = (value: Bytes): Value => ({ type: 'string', value });
export const hash = (value: Record<string, string> | [Bytes, Bytes][]): Value => ({
  type: 'hash',
  value: Array.isArray(value) ? value : Object.entries(value),
});
export const set = (...value: Bytes[]): Value => ({ type: 'set', value });
export const zset = (...value: [Bytes, number][]): Value => ({ type: 'zset', value });
export const list = (...value: Bytes[]): Value => ({ type: 'list', value });
export const stream = (...value: [string, Bytes[]][]): Value => ({ type: 'stream', value });
export const NONE: Value = { type: 'none' };

export const TYPES = ['string', 'hash', 'set', 'zset', 'list', 'stream'] as const;
export type TypeName = (typeof TYPES)[number];

/** Writes `value` at `key` (deleting what was there). */
export async function put(r: Redis, key: Bytes, value: Value): Promise<void> {
  await r.del(key);
  const args: (Bytes | number)[] = [];
  switch (value.type) {
    case 'none':
      return;
    case 'string':
      await r.set(key, value.value);
      return;
    case 'hash':
      // HMSET: Pika's HSET takes one pair.
      for (const [f, v] of value.value) args.push(f, v);
      await r.call('HMSET', key, ...args);
      return;
    case 'set':
      await r.call('SADD', key, ...value.value);
      return;
    case 'zset':
      for (const [m, s] of value.value) args.push(s, m);
      await r.call('ZADD', key, ...args);
      return;
    case 'list':
      await r.call('RPUSH', key, ...value.value);
      return;
    case 'stream':
      for (const [id, fields] of value.value) await r.call('XADD', key, id, ...fields);
      return;
  }
}

/** Writes every key of `data`. */
export async function seed(r: Redis, data: Record<string, Value> | [Bytes, Value][]): Promise<void> {
  const entries = Array.isArray(data) ? data : Object.entries(data);
  for (const [key, value] of entries) await put(r, key, value);
}

/**
 * The value at `key` in the shape of `Value`, with every byte string turned into text by `text`
 * (UTF-8 by default; pass `hex` for byte-exact comparisons). Hash fields and set members are
 * sorted, so two equal values compare equal with toEqual. `as` reads one type of the name (a Pika
 * 3.x name holds several); otherwise TYPE says which, and Pika's quirks are read through: TYPE
 * `streams` (Pika 4), streams that TYPE does not show (Pika 3.5), members ZRANGE hides (ZSCAN).
 */
export async function readValue(
  r: Redis,
  key: Bytes,
  text: (b: Buffer) => string = utf8,
  as?: TypeName,
): Promise<Value> {
  let type = as ?? (await r.type(key));
  if (type === 'streams') type = 'stream';
  // Pika 4's TYPE names the type of a deleted key; EXISTS does not (but for a deleted stream).
  if (!as && type !== 'none' && (await r.exists(key)) === 0) type = 'none';
  if (!as && type === 'stream' && Number(await r.xlen(key)) === 0) type = 'none';
  if (type === 'none' && Number(await r.xlen(key).catch(() => 0)) > 0) type = 'stream';
  switch (type) {
    case 'none':
      return NONE;
    case 'string':
      return { type, value: text((await r.getBuffer(key))!) };
    case 'hash': {
      const flat = (await r.callBuffer('HGETALL', key)) as Buffer[];
      const pairs: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push([text(flat[i]!), text(flat[i + 1]!)]);
      return { type, value: pairs.sort((a, b) => cmp(a[0], b[0])) };
    }
    case 'set':
      return { type, value: ((await r.smembersBuffer(key)) as Buffer[]).map(text).sort(cmp) };
    case 'zset': {
      const pairs: [string, number][] = [];
      let cursor = '0';
      do {
        const [next, flat] = (await r.callBuffer('ZSCAN', key, cursor, 'COUNT', 1000)) as [Buffer, Buffer[]];
        cursor = next.toString();
        for (let i = 0; i < flat.length; i += 2) pairs.push([text(flat[i]!), score(flat[i + 1]!)]);
      } while (cursor !== '0');
      // ZRANGE's order: by score, then by member bytes.
      return { type, value: pairs.sort((a, b) => a[1] - b[1] || cmp(a[0], b[0])) };
    }
    case 'list':
      return { type, value: ((await r.lrangeBuffer(key, 0, -1)) as Buffer[]).map(text) };
    case 'stream': {
      const entries = (await r.callBuffer('XRANGE', key, '-', '+')) as [Buffer, Buffer[]][];
      return { type, value: entries.map(([id, fields]) => [id.toString(), fields.map(text)]) };
    }
    default:
      throw new Error(`unexpected type ${type}`);
  }
}

/** `value` in the shape readValue() returns (text, sorted), to compare with toEqual. */
export function normalize(value: Value, text: (b: Buffer) => string = utf8): Value {
  const t = (b: Bytes): string => (typeof b === 'string' ? text(Buffer.from(b)) : text(b));
  switch (value.type) {
    case 'none':
      return value;
    case 'string':
      return { type: 'string', value: t(value.value) };
    case 'hash': {
      const merged = new Map<string, string>();
      for (const [f, v] of value.value) merged.set(t(f), t(v));
      return { type: 'hash', value: [...merged].sort((a, b) => cmp(a[0], b[0])) };
    }
    case 'set':
      return { type: 'set', value: [...new Set(value.value.map(t))].sort(cmp) };
    case 'zset':
      return {
        type: 'zset',
        value: value.value
          .map(([m, s]): [string, number] => [t(m), s])
          .sort((a, b) => a[1] - b[1] || cmp(a[0], b[0])),
      };
    case 'list':
      return { type: 'list', value: value.value.map(t) };
    case 'stream':
      return { type: 'stream', value: value.value.map(([id, f]) => [id, f.map(t)]) };
  }
}

/**
 * Empties db 0 of a Pika with DEL instead of FLUSHALL: Pika 4 answers FLUSHALL at once and then drops
 * and reopens its eight databases in the background, and commands that arrive meanwhile on a loaded
 * machine were seen to stall for tens of seconds.
 */
async function emptyPika(r: Redis): Promise<void> {
  const keys = await r.keysBuffer('*');
  for (let i = 0; i < keys.length; i += 500) await r.del(...keys.slice(i, i + 500));
}

/** The number of keys (DBSIZE is stale on Pika, and Pika 4's SCAN can skip one-byte keys). */
export async function keyCount(r: Redis): Promise<number> {
  return new Set((await r.keysBuffer('*')).map((k) => k.toString('latin1'))).size;
}

const score = (b: Buffer): number => {
  const t = b.toString();
  return t === 'inf' ? Number.POSITIVE_INFINITY : t === '-inf' ? Number.NEGATIVE_INFINITY : Number(t);
};

export const utf8 = (b: Buffer): string => b.toString('utf8');
export const hex = (b: Buffer): string => b.toString('hex');
// Byte order, like Redis sorts members with equal scores (memcmp).
const cmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** The counters of SPEC §5.3, zero where not given; `scanned` is the sum of the outcomes unless given. */
export function counts(partial: Partial<Counts>): Counts {
  const c: Counts = { ...emptyCounts(), ...partial };
  if (partial.scanned === undefined) {
    c.scanned = c.created + c.overridden + c.merged + c.skipped + c.expired + c.failed;
  }
  return c;
}

/** A merge configuration in the SPEC §3.1 shape; sources and target are filled in from the servers. */
export interface MergeConfig {
  strategies?: Partial<Record<'default' | TypeName, string>>;
  typeMismatch?: string;
  match?: string;
  merge?: Partial<Record<'hashField' | 'zsetScore' | 'list' | 'ttl', string>>;
  write?: Partial<
    Record<'mode', string> &
      Record<'concurrency' | 'batchSize' | 'scanCount' | 'bigKeyElements' | 'bigKeyBytes', number>
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

/** Every key of a database with its value (readValue) and whether it has a TTL, for whole-db comparisons. */
export async function snapshot(
  r: Redis,
  text: (b: Buffer) => string = hex,
): Promise<Record<string, { value: Value; ttl: boolean }>> {
  const out: Record<string, { value: Value; ttl: boolean }> = {};
  let cursor = '0';
  do {
    const [next, keys] = await r.scanBuffer(cursor, 'COUNT', 1000);
    cursor = next.toString();
    for (const key of keys) {
      out[hex(key)] = { value: await readValue(r, key, text), ttl: (await r.pttl(key)) >= 0 };
    }
  } while (cursor !== '0');
  return out;
}

/** Writes one type of a Pika 3.x name without touching its other types (put() deletes the name first). */
export async function addType(r: Redis, key: string, value: Value): Promise<void> {
  switch (value.type) {
    case 'string':
      await r.set(key, value.value);
      return;
    case 'hash':
      await r.hmset(key, ...value.value.flat());
      return;
    case 'set':
      await r.sadd(key, ...value.value);
      return;
    case 'zset':
      await r.zadd(key, ...value.value.flatMap(([m, s]) => [s, m]));
      return;
    case 'list':
      await r.rpush(key, ...value.value);
      return;
    case 'stream':
      for (const [id, fields] of value.value) await r.xadd(key, id, ...fields);
      return;
    case 'none':
      return;
  }
}

/** One value of each type a Pika 3.x TYPE ranks (string > hash > list > zset > set). */
export const MULTI: Value[] = [str('s'), hash({ f: 'v' }), list('x', 'y'), zset(['m', 2]), set('a', 'b')];

/**
 * Waits for `until` (a failover) while slowing down what servers serve: each is paused (CLIENT PAUSE,
 * `ALL` or only `WRITE` commands) for 150 ms of every 200, so a run against them still reads and writes
 * during the switch but cannot end before it, however long the sentinels take.
 */
export async function throttled<T>(
  servers: Redis[],
  until: Promise<T>,
  mode: 'ALL' | 'WRITE' = 'ALL',
): Promise<T> {
  let done = false;
  const slowing = servers.map(async (server) => {
    while (!done) {
      await server.call('CLIENT', 'PAUSE', 150, mode);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  try {
    return await until;
  } finally {
    done = true;
    await Promise.all(slowing);
  }
}
