/**
 * The one description of test data: a key (name, value, whose `type` says the type, and an expiry),
 * one writer that puts keys on a server (standalone through a pipeline, or a Cluster key by key) and
 * one reader that gives a key, or a whole keyspace, back in the same shape. The integration tests
 * seed and compare through it; the property tests' model stores (model-store.ts) are converted to it.
 */
import type { Cluster, Redis } from 'ioredis';

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

/** A key: its name, its value, and its time to live in ms (none: no expiry). */
export interface Key {
  name: Bytes;
  value: Value;
  ttl?: number;
}

/** Keys to write: by name (a value from expiring() has a TTL), or listed (Buffer names). */
export type Keys = Record<string, Value> | readonly (Key | [Bytes, Value])[];

/** `value` with a time to live of `ms`, for a Keys record. */
export function expiring(ms: number, value: Value): Value {
  return Object.assign({ ttl: ms }, value);
}

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

/** One value of each type a Pika 3.x TYPE ranks (string > hash > list > zset > set). */
export const MULTI: Value[] = [str('s'), hash({ f: 'v' }), list('x', 'y'), zset(['m', 2]), set('a', 'b')];

export const utf8 = (b: Buffer): string => b.toString('utf8');
export const hex = (b: Buffer): string => b.toString('hex');
export const latin1 = (b: Buffer): string => b.toString('latin1');

type Arg = Bytes | number;

/** The commands that add `value` to `name` (HMSET: Pika's HSET takes one pair). */
function writes(name: Bytes, value: Value): Arg[][] {
  switch (value.type) {
    case 'none':
      return [];
    case 'string':
      return [['SET', name, value.value]];
    case 'hash':
      return [['HMSET', name, ...value.value.flat()]];
    case 'set':
      return [['SADD', name, ...value.value]];
    case 'zset':
      return [['ZADD', name, ...value.value.flatMap(([m, s]) => [s, m])]];
    case 'list':
      return [['RPUSH', name, ...value.value]];
    case 'stream':
      return value.value.map(([id, fields]) => ['XADD', name, id, ...fields]);
  }
}

function keyList(keys: Keys): Key[] {
  const entries = Array.isArray(keys) ? keys : Object.entries(keys);
  return entries.map((k: Key | [Bytes, Value]) => {
    if (!Array.isArray(k)) return k;
    const [name, value] = k;
    const { ttl } = value as { ttl?: number };
    return ttl === undefined ? { name, value } : { name, value, ttl };
  });
}

/** How many keys of a Cluster are written at once. */
const CHUNK = 500;

function commandsOf({ name, value, ttl }: Key, add: boolean): Arg[][] {
  return [
    ...(add ? [] : [['DEL', name]]),
    ...writes(name, value),
    ...(ttl === undefined ? [] : [['PEXPIRE', name, ttl]]),
  ];
}

/**
 * Writes `keys`, each replacing what its name held, unless `add` (a Pika 3.x name holds one value of
 * each type: `add` writes one type without touching the others). A standalone server gets one
 * pipeline; a Cluster gets CHUNK keys at a time, each key's commands in order (its pipelines need
 * every key on one node), so a name must not appear twice there.
 */
export async function writeKeys(client: Redis | Cluster, keys: Keys, { add = false } = {}): Promise<void> {
  if (client.isCluster) {
    const each = keyList(keys);
    for (let i = 0; i < each.length; i += CHUNK) {
      await Promise.all(
        each.slice(i, i + CHUNK).map(async (key) => {
          for (const [command, ...args] of commandsOf(key, add)) await client.call(String(command), ...args);
        }),
      );
    }
    return;
  }
  const p = client.pipeline();
  for (const [command, ...args] of keyList(keys).flatMap((key) => commandsOf(key, add))) {
    p.call(String(command), ...args);
  }
  const failed = ((await p.exec()) ?? []).find(([err]) => err);
  if (failed) throw failed[0];
}

/** Writes `value` at `key` (deleting what was there). */
export const put = (r: Redis, key: Bytes, value: Value): Promise<void> => writeKeys(r, [[key, value]]);

/** Writes every key of `data`; with `flush`, on an emptied server (FLUSHALL first). */
export async function seed(r: Redis, data: Keys, { flush = false } = {}): Promise<void> {
  if (flush) await r.flushall();
  await writeKeys(r, data);
}

/** Writes one type of a Pika 3.x name without touching its other types. */
export const addType = (r: Redis, key: string, value: Value): Promise<void> =>
  writeKeys(r, [[key, value]], { add: true });

/** What each server holds before a test: the target's keys and each source's, by position. */
export interface Layout {
  target?: Keys;
  sources?: readonly (Keys | undefined)[];
}

/** Writes a layout to the servers it names, all at once (`add`: as writeKeys). */
export async function seedAll(
  servers: { t: Redis | Cluster; s: readonly Redis[] },
  layout: Layout,
  opts: { add?: boolean } = {},
): Promise<void> {
  await Promise.all([
    layout.target && writeKeys(servers.t, layout.target, opts),
    ...(layout.sources ?? []).map((keys, i) => keys && writeKeys(servers.s[i]!, keys, opts)),
  ]);
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

/**
 * Every key of a database (SCAN) with its value (readValue, bytes as `text`) and its time to live.
 * A name SCAN lists but that holds nothing (Pika 4 lists a deleted key for a while) has value NONE.
 */
export async function readKeys(r: Redis, text: (b: Buffer) => string = hex, count = 1000): Promise<Key[]> {
  const names = new Map<string, Buffer>();
  let cursor = '0';
  do {
    const [next, batch] = await r.scanBuffer(cursor, 'COUNT', count);
    cursor = next.toString();
    for (const name of batch) names.set(name.toString('latin1'), name);
  } while (cursor !== '0');
  const out: Key[] = [];
  for (const name of names.values()) {
    const value = await readValue(r, name, text);
    const pttl = await r.pttl(name);
    out.push(pttl >= 0 ? { name, value, ttl: pttl } : { name, value });
  }
  return out;
}

/** Every key of a database by its hex name, with its value and whether it has a TTL, to compare whole. */
export async function snapshot(
  r: Redis,
  text: (b: Buffer) => string = hex,
): Promise<Record<string, { value: Value; ttl: boolean }>> {
  const out: Record<string, { value: Value; ttl: boolean }> = {};
  for (const { name, value, ttl } of await readKeys(r, text)) {
    out[hex(name as Buffer)] = { value, ttl: ttl !== undefined };
  }
  return out;
}

/** The number of keys (DBSIZE is stale on Pika, and Pika 4's SCAN can skip one-byte keys). */
export async function keyCount(r: Redis): Promise<number> {
  return new Set((await r.keysBuffer('*')).map((k) => k.toString('latin1'))).size;
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

const score = (b: Buffer): number => {
  const t = b.toString();
  return t === 'inf' ? Number.POSITIVE_INFINITY : t === '-inf' ? Number.NEGATIVE_INFINITY : Number(t);
};

// Byte order, like Redis sorts members with equal scores (memcmp).
const cmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
