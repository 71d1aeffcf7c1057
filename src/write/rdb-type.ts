import type { DataType } from '../types/strategy.js';

/**
 * The data type a DUMP payload holds, from its first byte (the RDB object type), so a value read
 * with DUMP can be checked against the type it was decided for without asking TYPE again.
 * Encodings from Redis's rdb.h up to Redis 7.4 / Valkey 8; an unknown byte answers undefined.
 */
const RDB_TYPES: Record<number, DataType> = {
  0: 'string',
  1: 'list',
  2: 'set',
  3: 'zset',
  4: 'hash',
  5: 'zset', // ZSET_2
  6: 'other', // MODULE (pre-GA)
  7: 'other', // MODULE_2
  9: 'hash', // HASH_ZIPMAP
  10: 'list', // LIST_ZIPLIST
  11: 'set', // SET_INTSET
  12: 'zset', // ZSET_ZIPLIST
  13: 'hash', // HASH_ZIPLIST
  14: 'list', // LIST_QUICKLIST
  15: 'stream', // STREAM_LISTPACKS
  16: 'hash', // HASH_LISTPACK
  17: 'zset', // ZSET_LISTPACK
  18: 'list', // LIST_QUICKLIST_2
  19: 'stream', // STREAM_LISTPACKS_2
  20: 'set', // SET_LISTPACK
  21: 'stream', // STREAM_LISTPACKS_3
  22: 'hash', // HASH_METADATA_PRE_GA
  23: 'hash', // HASH_LISTPACK_EX_PRE_GA
  24: 'hash', // HASH_METADATA
  25: 'hash', // HASH_LISTPACK_EX
};

export function payloadType(payload: Buffer): DataType | undefined {
  return payload.length > 0 ? RDB_TYPES[payload[0]!] : undefined;
}
