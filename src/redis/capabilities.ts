import type { Redis } from 'ioredis';

export type ServerKind = 'redis' | 'valkey' | 'pika' | 'unknown';

/** What a server can do, learned once per run before any write. */
export interface ServerInfo {
  kind: ServerKind;
  version: string;
  /** Identifies the process: equal run ids mean the same instance (SPEC §1.7). */
  runId?: string;
  /** DUMP / RESTORE exist under their names; undefined when the user may not ask (learned at first use). */
  dump?: boolean;
  restore?: boolean;
  /** Largest bulk string the server accepts; a larger RESTORE payload would kill the connection. */
  protoMaxBulkLen: number;
}

const REDIS_DEFAULT_PROTO_MAX_BULK_LEN = 512 * 1024 * 1024;

/**
 * Asks INFO, COMMAND INFO and CONFIG GET what the server is and can do. Each may be denied to a
 * restricted ACL user (a read-only source user has only +@read); a denied question leaves the
 * answer unknown instead of failing the run.
 */
export async function probeServer(redis: Redis): Promise<ServerInfo> {
  const info: ServerInfo = {
    kind: 'unknown',
    version: '',
    protoMaxBulkLen: REDIS_DEFAULT_PROTO_MAX_BULK_LEN,
  };
  const fields = parseInfo(await optional(() => redis.info('server')));
  if (fields.pika_version) {
    info.kind = 'pika';
    info.version = fields.pika_version;
    // Pika has neither DUMP nor RESTORE (SPEC §7): native mode.
    info.dump = false;
    info.restore = false;
  } else if (fields.valkey_version || fields.server_name === 'valkey') {
    info.kind = 'valkey';
    info.version = fields.valkey_version ?? fields.redis_version ?? '';
  } else if (fields.redis_version) {
    info.kind = 'redis';
    info.version = fields.redis_version;
  }
  info.runId = fields.run_id;
  if (info.kind !== 'pika') {
    const commands = await optional(
      () => redis.call('COMMAND', 'INFO', 'DUMP', 'RESTORE') as Promise<unknown[]>,
    );
    if (Array.isArray(commands) && commands.length === 2) {
      info.dump = commands[0] !== null;
      info.restore = commands[1] !== null;
    }
  }
  const bulk = await optional(() => redis.config('GET', 'proto-max-bulk-len') as Promise<string[]>);
  const limit = Number(Array.isArray(bulk) ? bulk[1] : Number.NaN);
  if (Number.isFinite(limit) && limit > 0) info.protoMaxBulkLen = limit;
  return info;
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
