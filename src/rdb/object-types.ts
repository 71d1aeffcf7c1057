/**
 * The RDB object types (the byte before a key in a file, the first byte of a DUMP payload) and the data
 * type each holds, from Redis's rdb.h up to Redis 8.0 / Valkey 8 (8 was never used). The names are
 * those of types/strategy.ts's DataType; rdb/ sits below types/ and so repeats the union.
 */
export type RdbDataType = 'string' | 'list' | 'set' | 'zset' | 'hash' | 'stream' | 'other';

export const RDB_OBJECT_TYPES: Readonly<Record<number, RdbDataType>> = {
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

/** The hash encodings whose fields may expire on their own (Redis 7.4+ HEXPIRE): 22 to 25. */
export const FIELD_TTL_HASH_TYPES: ReadonlySet<number> = new Set([22, 23, 24, 25]);
