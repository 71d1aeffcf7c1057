import type { Command } from '../servers/resp.js';
import { CODECS } from './index.js';
import type { NativeType } from './strategy.js';

/**
 * The commands that empty one type of a name and leave its other types as they are (a put-back on
 * Pika 3.x, where one name holds several types and DEL removes them all) when that type needs no read
 * first (string, zset, list, stream), so that they can share a MULTI with what is written next;
 * undefined for a hash or set, whose members must be read to be deleted (journal/clear-type.ts).
 * A string is set to expire at a time long past (PKSETEXAT sets the string's own expiry; an expired
 * string is no string); a zset, list or stream is emptied by rank, range or length.
 */
export function clearCommands(key: Buffer, type: NativeType): Command[] | undefined {
  if (type === 'string') return [['PKSETEXAT', key, 1, Buffer.alloc(0)]];
  return type === 'hash' || type === 'set' ? undefined : CODECS[type].clear(key, null);
}
