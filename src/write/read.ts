import { FIELD_TTL_HASH_TYPES } from '../rdb/object-types.js';
import type { Caps } from '../servers/caps.js';
import { now } from '../servers/clock.js';
import type { Command } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import type { Dialect } from '../types/codec.js';
import { CODECS, keepsTtl } from '../types/index.js';
import type { DataType, KeyAtWork, NativeType } from '../types/strategy.js';
import { typeFromReply } from '../types/type-reply.js';
import { decodePayload, UnsupportedPayloadError } from './rdb-payload.js';
import { payloadType } from './rdb-type.js';
import { type Deadline, deadlineFrom } from './ttl.js';

export type ReadHow = 'dump' | 'native';

/** A source value as read for writing: a DUMP payload or a decoded native value, with its deadline. */
export type SourceValue =
  | {
      state: 'ok';
      deadline: Deadline;
      dump?: Buffer;
      native?: unknown;
      /**
       * A native hash's fields that expire on their own (Redis 7.4+ HPEXPIRE), each with its deadline:
       * given where the value was decoded from a payload that carries them (an RDB file's).
       */
      fieldDeadlines?: [field: Buffer, deadline: number][];
    }
  /** Deleted or expired since the probe. */
  | { state: 'gone' }
  /** Now holds another type than the probe saw: the key must be decided again. */
  | { state: 'changed' }
  /** The source refused the read (e.g. DUMP not permitted). */
  | { state: 'refused'; message: string }
  /** The value cannot be carried (an RDB file's big value, a value it cannot decode): the key fails. */
  | { state: 'failed'; message: string };

/** A key at work whose value is read from its source: `sourceKey` is its name there (without the prefix). */
export interface ReadRequest extends KeyAtWork {
  sourceKey: Buffer;
  how: ReadHow;
  /** The PTTL reply and payload the probe already read (servers/batch-scripts.ts): the dump path uses them. */
  prefetched?: { pttl: number; payload: Buffer | null; sentAt: number };
}

/** A source as the reader asks it: its pipe and what it can do. */
export interface ReadSide {
  pipe: Transport;
  caps: Dialect & Pick<Caps, 'multiTypeNames' | 'streamTtl'>;
}

/**
 * Reads the values of a batch in one pipelined round trip: TYPE (to catch a key that changed type
 * since the probe), PTTL and the value, so the TTL is read together with the value (SPEC §1.5).
 * Where a name holds several types (Pika 3.x), TYPE names only the first: there a type's own read
 * tells whether the name still holds it (an empty reply is a gone value).
 */
export async function readValues(source: ReadSide, requests: readonly ReadRequest[]): Promise<SourceValue[]> {
  if (requests.length === 0) return [];
  const checksType = !source.caps.multiTypeNames;
  const asks: Command[] = [];
  const counts: number[] = [];
  const fromPayload: (SourceValue | undefined)[] = new Array(requests.length);
  for (let i = 0; i < requests.length; i++) {
    const { sourceKey: key, type, how, prefetched } = requests[i]!;
    if (prefetched && dumps(how, type)) {
      counts.push(0);
      continue;
    }
    fromPayload[i] = prefetched && decodedPrefetch(type, prefetched, source.caps);
    if (fromPayload[i]) {
      counts.push(0);
      continue;
    }
    // A DUMP payload names its own type (rdb-type.ts): TYPE is asked only before native reads.
    if (dumps(how, type)) {
      asks.push(['PTTL', key], ['DUMP', key]);
      counts.push(2);
    } else {
      const commands = CODECS[type as NativeType].read(key, source.caps);
      if (checksType) asks.push(['TYPE', key]);
      asks.push(['PTTL', key], ...commands);
      counts.push(commands.length + 1 + (checksType ? 1 : 0));
    }
  }
  const sentAt = now();
  const replies = asks.length > 0 ? await source.pipe.send(asks) : [];
  let at = 0;
  return requests.map(({ type, how, prefetched }, i): SourceValue => {
    const count = counts[i]!;
    const from = at;
    at += count;
    if (dumps(how, type)) {
      // Read from the probe's prefetch or the replies in place: no slice or pair per key (issue 20).
      const pttl = prefetched ? prefetched.pttl : replies[from];
      const payload = prefetched ? prefetched.payload : replies[from + 1];
      const deadline = deadlineFrom(Number(pttl), prefetched?.sentAt ?? sentAt);
      if (payload instanceof Error) return { state: 'refused', message: payload.message };
      if (!payload || deadline === 'gone') return { state: 'gone' };
      const held = payloadType(payload as Buffer);
      if (held !== undefined && held !== type) return { state: 'changed' };
      return { state: 'ok', deadline, dump: payload as Buffer };
    }
    const prefetchedValue = fromPayload[i];
    if (prefetchedValue) return prefetchedValue;
    const slice = replies.slice(from, at);
    const typeReply = checksType ? slice.shift() : type;
    const [pttl, ...valueReplies] = slice;
    if (typeReply instanceof Error) throw typeReply;
    const nowType = typeFromReply(typeReply);
    // Where streams have no TTL (Pika), PTTL says nothing about one: it lives until deleted.
    const deadline = keepsTtl(type, source.caps) ? deadlineFrom(Number(pttl), sentAt) : null;
    if (nowType === null || deadline === 'gone') return { state: 'gone' };
    if (nowType !== type) return { state: 'changed' };
    // A value read that fails (an XINFO on a stream deleted meanwhile) shows as a missing value.
    const decoded = CODECS[type as NativeType].decode(valueReplies, source.caps);
    return decoded === null ? { state: 'gone' } : { state: 'ok', deadline, native: decoded };
  });
}

/** The types whose native value a payload decodes to exactly as their codec's read does. */
const DECODED_ALIKE: ReadonlySet<DataType> = new Set(['string', 'hash', 'set', 'zset', 'list']);

/**
 * A native read (a merge's) that the probe's prefetch already answers: its payload, read atomically
 * with its PTTL, decoded here instead of asking the source TYPE, PTTL and the whole value again
 * (issue 20: the merge's sources ran 0.9 calls a key more than the copy's). Undefined where the
 * source must be asked: no payload (a big key is sized, not dumped), a refused DUMP, a hash encoded
 * for field expiries (they go the native way), a payload this reader does not know.
 */
function decodedPrefetch(
  type: DataType,
  prefetched: NonNullable<ReadRequest['prefetched']>,
  caps: ReadSide['caps'],
): SourceValue | undefined {
  const { payload } = prefetched;
  if (!Buffer.isBuffer(payload) || !DECODED_ALIKE.has(type)) return undefined;
  // Field expiries are kept in the source's clock: such a hash is read the native way, as before.
  if (FIELD_TTL_HASH_TYPES.has(payload[0]!)) return undefined;
  const deadline = keepsTtl(type, caps) ? deadlineFrom(Number(prefetched.pttl), prefetched.sentAt) : null;
  if (deadline === 'gone') return { state: 'gone' };
  const held = payloadType(payload);
  if (held !== undefined && held !== type) return { state: 'changed' };
  try {
    const decoded = decodePayload(payload);
    if (decoded.type !== type) return undefined;
    return { state: 'ok', deadline, native: decoded.value };
  } catch (err) {
    // A payload the decoder refuses or runs off the end of (a Buffer read's RangeError): asked again.
    if (err instanceof UnsupportedPayloadError || err instanceof RangeError) return undefined;
    throw err;
  }
}

/** Module types travel only as DUMP payloads. */
function dumps(how: ReadHow, type: DataType): boolean {
  return how === 'dump' || type === 'other';
}
