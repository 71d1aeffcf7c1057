import type { DataType } from '../decide/types.js';
import { typeFromReply } from '../probe/probe.js';
import type { RespPipe } from '../redis/pipe.js';
import type { Command } from './commands.js';
import { CODECS } from './native/index.js';
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
    asks.push(['TYPE', key], ['PTTL', key]);
    if (how === 'dump' || type === 'other') {
      asks.push(['DUMP', key]);
      counts.push(1);
    } else {
      const commands = CODECS[type].read(key);
      asks.push(...commands);
      counts.push(commands.length);
    }
  }
  const sentAt = now();
  const replies = await source.send(asks);
  let at = 0;
  return requests.map(({ type, how }, i): SourceValue => {
    const typeReply = replies[at]!;
    const pttl = replies[at + 1]!;
    const valueReplies = replies.slice(at + 2, at + 2 + counts[i]!);
    at += 2 + counts[i]!;
    if (typeReply instanceof Error) throw typeReply;
    const nowType = typeFromReply(typeReply);
    const deadline = deadlineFrom(Number(pttl), sentAt);
    if (nowType === null || deadline === 'gone') return { state: 'gone' };
    if (nowType !== type) return { state: 'changed' };
    if (how === 'dump' || type === 'other') {
      const payload = valueReplies[0];
      if (payload instanceof Error) return { state: 'refused', message: payload.message };
      if (!payload) return { state: 'gone' };
      return { state: 'ok', deadline, dump: payload as Buffer };
    }
    // A value read that fails (an XINFO on a stream deleted meanwhile) shows as a missing value.
    const decoded = CODECS[type as Exclude<DataType, 'other'>].decode(valueReplies);
    return decoded === null ? { state: 'gone' } : { state: 'ok', deadline, native: decoded };
  });
}
