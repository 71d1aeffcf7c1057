// biome-ignore-all lint/suspicious/noAssignInExpressions: `while ((n = w.len()) === NEED) refill` is this reader's one idiom: try a token, refill until it is there
import { RdbUnsupportedError } from './errors.js';
import { skipModuleValue } from './module.js';
import { NEED, type Window } from './window.js';

/**
 * Walks one value's bytes (what follows the key, up to the next record) without decoding them: the
 * framing of each RDB object type, as Redis's rdbLoadObject reads it, reduced to lengths, strings and
 * fixed fields. A generator, so that a value of any size passes through a window of one chunk: each
 * `yield` asks the caller for a refill, after which the walk goes on where it stopped (a token is
 * read whole or not at all; a string's bytes pass in pieces).
 *
 * A module value's id goes to `onModuleId` (its module's name is what a failure names).
 *
 * Every loop below reads `while (!token) yield;`: try the token, and refill until it is there.
 */
export function* walkValue(
  w: Window,
  type: number,
  onModuleId?: (id: bigint) => void,
): Generator<void, void, void> {
  let n: number;
  switch (type) {
    case 0: // STRING
    case 9: // HASH_ZIPMAP
    case 10: // LIST_ZIPLIST
    case 11: // SET_INTSET
    case 12: // ZSET_ZIPLIST
    case 13: // HASH_ZIPLIST
    case 16: // HASH_LISTPACK
    case 17: // ZSET_LISTPACK
    case 20: // SET_LISTPACK
    case 23: // HASH_LISTPACK_EX_PRE_GA
      while (!w.skipString()) yield;
      return;
    case 25: // HASH_LISTPACK_EX: the earliest field expiry (ms), then the listpack
      while (!w.skip(8)) yield;
      while (!w.skipString()) yield;
      return;
    case 1: // LIST (linked list)
    case 2: // SET (hashtable)
    case 14: // LIST_QUICKLIST: ziplist nodes
      while ((n = w.len()) === NEED) yield;
      for (let i = 0; i < n; i++) while (!w.skipString()) yield;
      return;
    case 4: // HASH (hashtable): field, value
      while ((n = w.len()) === NEED) yield;
      for (let i = 0; i < 2 * n; i++) while (!w.skipString()) yield;
      return;
    case 3: // ZSET: member, score as text
    case 5: // ZSET_2: member, binary double
      while ((n = w.len()) === NEED) yield;
      for (let i = 0; i < n; i++) {
        while (!w.skipString()) yield;
        if (type === 3) while (!w.skipTextDouble()) yield;
        else while (!w.skip(8)) yield;
      }
      return;
    case 18: // LIST_QUICKLIST_2: per node its container (plain or packed), then its bytes
      while ((n = w.len()) === NEED) yield;
      for (let i = 0; i < n; i++) {
        while (w.len() === NEED) yield;
        while (!w.skipString()) yield;
      }
      return;
    case 22: // HASH_METADATA_PRE_GA: per field: its expiry, field, value
    case 24: // HASH_METADATA: the earliest field expiry (ms), then per field: its TTL, field, value
      if (type === 24) while (!w.skip(8)) yield;
      while ((n = w.len()) === NEED) yield;
      for (let i = 0; i < n; i++) {
        while (w.len() === NEED) yield;
        while (!w.skipString()) yield;
        while (!w.skipString()) yield;
      }
      return;
    case 15: // STREAM_LISTPACKS (Redis 5, 6.2)
    case 19: // STREAM_LISTPACKS_2 (7.0)
    case 21: // STREAM_LISTPACKS_3 (7.2)
      yield* walkStream(w, type === 15 ? 1 : type === 19 ? 2 : 3);
      return;
    case 7: // MODULE_2: the module id, then the module's self-describing opcodes up to its EOF
      yield* skipModuleValue(w, onModuleId);
      return;
    case 6:
      // MODULE (4.0 release candidates): only the module itself knows where the value ends.
      throw new RdbUnsupportedError(w.file, w.offset, 'a pre-GA module value (type 6) cannot be read');
    default:
      throw new Error(`walkValue: type ${type} is not an object type`);
  }
}

/**
 * A stream: listpack nodes (master id, listpack), length, last id, (v2+) first id, max deleted id,
 * entries added; then consumer groups: name, last delivered id, (v2+) entries read, the pending
 * entries (id, delivery time, delivery count), the consumers (name, seen time, (v3) active time,
 * their pending ids).
 */
function* walkStream(w: Window, version: 1 | 2 | 3): Generator<void, void, void> {
  let n: number;
  while ((n = w.len()) === NEED) yield;
  for (let i = 0; i < 2 * n; i++) while (!w.skipString()) yield;
  const lengths = version >= 2 ? 8 : 3; // length, last id (ms, seq) [, first id, max deleted id, added]
  for (let i = 0; i < lengths; i++) while (w.len() === NEED) yield;
  let groups: number;
  while ((groups = w.len()) === NEED) yield;
  for (let g = 0; g < groups; g++) {
    while (!w.skipString()) yield;
    for (let i = version >= 2 ? 3 : 2; i > 0; i--) while (w.len() === NEED) yield;
    let pending: number;
    while ((pending = w.len()) === NEED) yield;
    for (let p = 0; p < pending; p++) {
      while (!w.skip(16 + 8)) yield; // id, delivery time
      while (w.len() === NEED) yield; // delivery count
    }
    let consumers: number;
    while ((consumers = w.len()) === NEED) yield;
    for (let c = 0; c < consumers; c++) {
      while (!w.skipString()) yield;
      while (!w.skip(version >= 3 ? 16 : 8)) yield;
      while ((n = w.len()) === NEED) yield;
      for (let p = 0; p < n; p++) while (!w.skip(16)) yield;
    }
  }
}
