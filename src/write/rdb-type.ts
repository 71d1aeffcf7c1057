import { RDB_OBJECT_TYPES } from '../rdb/object-types.js';
import type { DataType } from '../types/strategy.js';

/**
 * The data type a DUMP payload holds, from its first byte (the RDB object type), so a value read
 * with DUMP can be checked against the type it was decided for without asking TYPE again. An unknown
 * byte answers undefined.
 */
export function payloadType(payload: Buffer): DataType | undefined {
  return payload.length > 0 ? RDB_OBJECT_TYPES[payload[0]!] : undefined;
}
