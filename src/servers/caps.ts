import type { Redis } from 'ioredis';
import { scriptCheckCommands } from './batch-scripts.js';
import { tagForSlot } from './cluster/slot.js';
import { replyIs } from './errors/classify.js';

export type ServerKind = 'redis' | 'valkey' | 'pika' | 'unknown';

/**
 * What one endpoint can do (DESIGN.md seam 1), learned once per run before any write. Every read
 * path, write path and codec asks this object instead of asking which server it is: a server quirk
 * is written down here once, with the version that has it, and nowhere else.
 */
export interface Caps {
  kind: ServerKind;
  version: string;
  /** Identifies the process: equal run ids mean the same instance (SPEC §1.7). */
  runId?: string;
  /** DUMP / RESTORE exist under their names; undefined when the user may not ask (learned at first use). */
  dump?: boolean;
  restore?: boolean;
  /**
   * The RDB version of this server's DUMP payloads: RESTORE takes a payload of at most this version.
   * Undefined where unknown (no DUMP/RESTORE, a server kvmerge does not know).
   */
  payloadRdbVersion?: number;
  /** Largest bulk string the server accepts; a larger RESTORE payload would kill the connection. */
  protoMaxBulkLen: number;
  /** MEMORY USAGE answers: sizes big keys before reading them. Otherwise element counts do. */
  memoryUsage: boolean;
  /** RENAME exists: a chunked create/override is built under a temporary key and renamed over the key. */
  rename: boolean;
  /** PEXPIREAT / SET PXAT / RESTORE ABSTTL keep a millisecond Unix time as given. */
  absoluteExpiry: boolean;
  /** PEXPIRETIME gives a key's absolute expiry to the millisecond (Redis 7.0+, Valkey). */
  expireTime: boolean;
  /** A hash field can have its own expiry (HPEXPIRE, HPEXPIRETIME: Redis 7.4+). */
  hashFieldTtls: boolean;
  /** SET … PXAT (Redis 6.2 and later, every Valkey). */
  setPxat: boolean;
  /** The smallest TTL step the server keeps: 1 ms, or 1000 where it keeps whole seconds. */
  ttlGranularityMs: number;
  /** HSET takes many field/value pairs (Redis 4+); otherwise HMSET does. */
  multiPairHset: boolean;
  /** ZADD takes NX / GT / LT. */
  zaddFlags: boolean;
  /** ZRANGE returns every member; where it hides ±inf scores, zsets are read with ZSCAN. */
  zrangeComplete: boolean;
  /** Consumer groups and stream ids beyond the entries: XINFO GROUPS, XGROUP, XSETID. */
  streamGroups: boolean;
  /** One name can hold several types at once; SCAN returns it once per type (Pika 3.x). */
  multiTypeNames: boolean;
  /** DBSIZE is stale until `INFO keyspace 1` recounts (Pika). */
  keyspaceNeedsStats: boolean;
  /** Keys may contain a NUL byte; where false the server truncates them, so they are refused. */
  nulInKeys: boolean;
  /** MULTI/EXEC exist. */
  transactions: boolean;
  /** A stream keeps a TTL: PTTL means something on it and PEXPIRE works (not on Pika). */
  streamTtl: boolean;
  /**
   * TYPE may name the type of a deleted key (Pika 4.0): EXISTS decides, and for a stream, which
   * EXISTS still counts once deleted, its entries (XLEN).
   */
  staleType: boolean;
  /**
   * A node of a Redis Cluster (`INFO cluster`: cluster_enabled:1): its URL names the whole cluster,
   * every master is scanned and written, and the hot path routes by hash slot (servers/server.ts).
   */
  cluster: boolean;
  /** Keys are walked with SCANX (Pika: its SCAN cannot be trusted, scanner.ts says why). */
  scanx: boolean;
  /**
   * A batch of keys is probed (and small values dumped) by one EVAL (servers/batch-scripts.ts): a
   * standalone Redis or Valkey whose user may run EVAL. Not on a cluster (a batch spans slots) nor
   * Pika (no EVAL). Turned off for the rest of the run if a script is refused later.
   */
  batchScripts: boolean;
  /** What the operator should know about this server's setup before a run (logged, not fatal). */
  warnings: string[];
}

const REDIS_DEFAULT_PROTO_MAX_BULK_LEN = 512 * 1024 * 1024;

/**
 * The RDB version of a server's DUMP payloads, by release (rdb.h RDB_VERSION): Redis 3.2: 7, 4.0: 8,
 * 5.0–6.2: 9, 7.0: 10, 7.2: 11, 7.4 and 8.x: 12 (8.0-m01 says 7.9.224); Valkey 7.2 and 8.x: 11.
 */
function payloadRdbVersion(kind: ServerKind, version: string): number | undefined {
  if (kind === 'valkey') return 11;
  if (kind !== 'redis') return undefined;
  const table: [major: number, minor: number, rdb: number][] = [
    [7, 4, 12],
    [7, 2, 11],
    [7, 0, 10],
    [5, 0, 9],
    [4, 0, 8],
    [3, 2, 7],
  ];
  return table.find(([major, minor]) => atLeast(version, major, minor))?.[2] ?? 6;
}

/** A Redis or Valkey: everything the product uses is there. */
export function redisCaps(kind: ServerKind, version: string): Caps {
  return {
    kind,
    version,
    payloadRdbVersion: payloadRdbVersion(kind, version),
    protoMaxBulkLen: REDIS_DEFAULT_PROTO_MAX_BULK_LEN,
    memoryUsage: true,
    rename: true,
    absoluteExpiry: true,
    expireTime: kind === 'valkey' || atLeast(version, 7, 0),
    hashFieldTtls: kind === 'redis' && atLeast(version, 7, 4),
    setPxat: kind === 'valkey' || atLeast(version, 6, 2),
    ttlGranularityMs: 1,
    multiPairHset: true,
    zaddFlags: true,
    zrangeComplete: true,
    streamGroups: true,
    multiTypeNames: false,
    keyspaceNeedsStats: false,
    nulInKeys: true,
    transactions: true,
    streamTtl: true,
    staleType: false,
    cluster: false,
    scanx: false,
    batchScripts: false,
    warnings: [],
  };
}

/**
 * Pika, as measured on 4.0.1 (`pika_version:4.0.0`) and 3.5.5 (SPEC §7): no DUMP/RESTORE, RENAME,
 * MEMORY, EVAL or COMMAND; HSET takes one pair (HMSET many); ZADD has no NX/GT/LT; ZRANGE leaves out
 * members scored -inf (ZSCAN shows them); XINFO GROUPS never answers and XGROUP/XSETID do not exist;
 * DBSIZE is stale until `INFO keyspace 1`; MULTI/EXEC work; a stream has no TTL (PEXPIRE
 * does nothing, PTTL says 0 on 4.x and -2 on 3.x for a live stream). 4.x: PEXPIREAT with a millisecond time
 * destroys the key (so lifetimes are sent relative), a key with a NUL byte is cut at the NUL, TYPE
 * names a stream `streams`, and TYPE still names the type of a deleted key (EXISTS says 0, but 1
 * for a deleted stream, whose XLEN is 0). 3.x: TTLs are whole seconds (rounded down), one name holds several types
 * (TYPE names the first of string > hash > list > zset > set, PTYPE lists them, streams show in
 * neither: XLEN finds them), DEL and PEXPIRE act on every type of the name; a SCAN/SCANX cursor can
 * cycle and never return 0 (positions cached on the server by cursor number; seen on 3.5.5 in
 * production): every cursor walk is watched by scan/cursor-guard.ts, never trusted to end.
 */
function pikaCaps(version: string): Caps {
  const three = !atLeast(version, 4, 0);
  return {
    kind: 'pika',
    version,
    dump: false,
    restore: false,
    protoMaxBulkLen: REDIS_DEFAULT_PROTO_MAX_BULK_LEN,
    memoryUsage: false,
    rename: false,
    absoluteExpiry: false,
    expireTime: false,
    hashFieldTtls: false,
    setPxat: false,
    ttlGranularityMs: three ? 1000 : 1,
    multiPairHset: false,
    zaddFlags: false,
    zrangeComplete: false,
    streamGroups: false,
    multiTypeNames: three,
    keyspaceNeedsStats: true,
    nulInKeys: three,
    transactions: true,
    streamTtl: false,
    staleType: !three,
    cluster: false,
    scanx: true,
    batchScripts: false,
    warnings: [],
  };
}

/**
 * Whether batches can be probed by script on this standalone server (a cluster would refuse a batch
 * whose keys span slots): whether it runs the scripts. Each script is tried once on a key that
 * does not exist, which proves EVAL is allowed; a command inside a script that the user may not run
 * shows later, as an error reply of the batch, which turns the scripts off for the run (probe.ts).
 */
async function runsBatchScripts(redis: Redis): Promise<boolean> {
  const probeKey = Buffer.from('kvmerge:batch-script-check');
  for (const [name, ...args] of scriptCheckCommands(probeKey)) {
    const ok = await optional(() => redis.callBuffer(name, ...args));
    if (ok === undefined) return false;
  }
  return true;
}

/**
 * Asks INFO, COMMAND INFO and CONFIG GET what the server is and can do. Each may be denied to a
 * restricted ACL user (a read-only source user has only +@read); a denied question leaves the
 * answer at the kind's default instead of failing the run.
 */
export async function probeServer(redis: Redis): Promise<Caps> {
  const fields = parseInfo(await optional(() => redis.info('server')));
  let caps: Caps;
  if (fields.pika_version) caps = pikaCaps(fields.pika_version);
  else if (fields.valkey_version || fields.server_name === 'valkey') {
    caps = redisCaps('valkey', fields.valkey_version ?? fields.redis_version ?? '');
  } else caps = redisCaps(fields.redis_version ? 'redis' : 'unknown', fields.redis_version ?? '');
  caps.runId = fields.run_id;
  if (caps.kind !== 'pika') caps.cluster = await isClusterNode(redis);
  if (caps.multiTypeNames) {
    // Pika 3.5.5 aborts under a merge's read load with its key cache on (rediscache dict.c:198
    // dictRehash assertion, seen within three runs of 20k keys; none in six runs with cache-model 0).
    const model = await optional(() => redis.config('GET', 'cache-model') as Promise<string[]>);
    if (Array.isArray(model) && model[1] !== undefined && model[1] !== '0') {
      caps.warnings.push(
        `Pika ${caps.version} runs with cache-model ${model[1]}, which can crash it under a merge's reads ` +
          '(rediscache dictRehash assertion); run CONFIG SET cache-model 0 on it before merging',
      );
    }
  }
  if (caps.kind !== 'pika') {
    const commands = await optional(
      () => redis.call('COMMAND', 'INFO', 'DUMP', 'RESTORE') as Promise<unknown[]>,
    );
    if (Array.isArray(commands) && commands.length === 2) {
      caps.dump = commands[0] !== null;
      caps.restore = commands[1] !== null;
    }
  }
  if (caps.kind !== 'pika' && !caps.cluster) caps.batchScripts = await runsBatchScripts(redis);
  const bulk = await optional(() => redis.config('GET', 'proto-max-bulk-len') as Promise<string[]>);
  const limit = Number(Array.isArray(bulk) ? bulk[1] : Number.NaN);
  if (Number.isFinite(limit) && limit > 0) caps.protoMaxBulkLen = limit;
  return caps;
}

/**
 * Whether the server is a node of a Redis Cluster: `INFO cluster` says so. A user who may not ask
 * INFO (+@read only) reads keys in four distant slots instead: a node of a cluster of two or more
 * masters answers MOVED for at least one, a standalone server never does. (A cluster of one master
 * owns every slot and then works as a standalone server.)
 */
async function isClusterNode(redis: Redis): Promise<boolean> {
  const info = parseInfo(await optional(() => redis.info('cluster')));
  if (info.cluster_enabled !== undefined) return info.cluster_enabled === '1';
  for (const slot of [0, 5461, 10923, 16383]) {
    try {
      await redis.exists(`{${tagForSlot(slot)}}`);
    } catch (err) {
      if (replyIs(err, 'moved')) return true;
    }
  }
  return false;
}

/**
 * The number of keys in the connection's database, for progress totals. Where DBSIZE is stale
 * (Pika), `INFO keyspace 1` starts a recount in the background: DBSIZE then says what the last
 * recount found, and where that is 0 (none has run yet), it is asked again once the recount has had
 * a moment. An estimate, for progress only.
 */
export async function keyspaceSize(redis: Redis, caps: Pick<Caps, 'keyspaceNeedsStats'>): Promise<number> {
  if (!caps.keyspaceNeedsStats) return Number(await redis.dbsize());
  await optional(() => redis.info('keyspace', '1') as Promise<string>);
  const counted = Number(await redis.dbsize());
  if (counted > 0) return counted;
  await new Promise((resolve) => setTimeout(resolve, RECOUNT_WAIT_MS));
  return Number(await redis.dbsize());
}

/** How long Pika's first keyspace recount is given before DBSIZE is asked again. */
const RECOUNT_WAIT_MS = 200;

function atLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

async function optional<T>(ask: () => Promise<T>): Promise<T | undefined> {
  try {
    return await ask();
  } catch {
    return undefined;
  }
}

function parseInfo(text: string | undefined): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of (text ?? '').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}
