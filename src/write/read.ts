import type { DataType, NativeType } from '../decide/types.js';
import { typeFromReply } from '../probe/probe.js';
import type { RespPipe } from '../redis/pipe.js';
import type { Command } from './commands.js';
import { CODECS } from './native/index.js';
import { payloadType } from './rdb-type.js';
import { type Deadline, deadlineFrom, now } from './ttl.js';

export type ReadHow = 'dump' | 'native';

/** A source value as read for writing: a DUMP payload or a decoded native value, with its deadline. */
export type SourceValue =
  | { state: 'ok'; deadline: Deadline; dump?: Buffer; native?: unknown }
  /** Deleted or expired since the probe. */
  | { state: 'gone' }
  /** Now holds another type than the probe saw: the key must be decided again. */
  | { state: 'changed' }
  /** The source refused the read (e.g. DUMP not permitted). */
  | { state: 'refused'; message: string };

export interface ReadRequest {
  key: Buffer;
  type: DataType;
  how: ReadHow;
}

/**
 * Reads the values of a batch in one pipelined round trip: TYPE (to catch a key that changed type
 * since the probe), PTTL and the value, so the TTL is read together with the value (SPEC §1.5).
 */
export async function readValues(source: RespPipe, requests: readonly ReadRequest[]): Promise<SourceValue[]> {
  if (requests.length === 0) return [];
  const asks: Command[] = [];
  const counts: number[] = [];
  for (const { key, type, how } of requests) {
    // A DUMP payload names its own type (rdb-type.ts): TYPE is asked only before native reads.
    if (dumps(how, type)) {
      asks.push(['PTTL', key], ['DUMP', key]);
      counts.push(1);
    } else {
      const commands = CODECS[type as NativeType].read(key);
      asks.push(['TYPE', key], ['PTTL', key], ...commands);
      counts.push(commands.length + 1);
    }
  }
  const sentAt = now();
  const replies = await source.send(asks);
  let at = 0;
  return requests.map(({ type, how }, i): SourceValue => {
    const count = counts[i]!;
    const slice = replies.slice(at, at + 1 + count);
    at += 1 + count;
    if (dumps(how, type)) {
      const [pttl, payload] = slice;
      const deadline = deadlineFrom(Number(pttl), sentAt);
      if (payload instanceof Error) return { state: 'refused', message: payload.message };
      if (!payload || deadline === 'gone') return { state: 'gone' };
      const held = payloadType(payload as Buffer);
      if (held !== undefined && held !== type) return { state: 'changed' };
      return { state: 'ok', deadline, dump: payload as Buffer };
    }
    const [typeReply, pttl, ...valueReplies] = slice;
    if (typeReply instanceof Error) throw typeReply;
    const nowType = typeFromReply(typeReply);
    const deadline = deadlineFrom(Number(pttl), sentAt);
    if (nowType === null || deadline === 'gone') return { state: 'gone' };
    if (nowType !== type) return { state: 'changed' };
    // A value read that fails (an XINFO on a stream deleted meanwhile) shows as a missing value.
    const decoded = CODECS[type as NativeType].decode(valueReplies);
    return decoded === null ? { state: 'gone' } : { state: 'ok', deadline, native: decoded };
  });
}

/** Module types travel only as DUMP payloads. */
function dumps(how: ReadHow, type: DataType): boolean {
  return how === 'dump' || type === 'other';
}
