import { RDB_OBJECT_TYPES } from '../rdb/object-types.js';
import type { Command } from './resp.js';

/**
 * Server-side Lua scripts that ask about a whole batch of keys in one command.
 *
 * Why: on small keys, the per-command cost (encoding, the server's dispatch and reply, parsing)
 * dominates a run. Asked key by key, a copy costs 4 commands per key to the source (TYPE, MEMORY
 * USAGE, PTTL, DUMP) and a TYPE to the target beside the RESTORE; Redis's own MIGRATE sends one
 * command per 256 keys. One EVAL per batch asks the same questions in the server's own loop, in
 * one atomic step (so TYPE, size, TTL and payload describe one and the same moment).
 *
 * Only read commands are called (TYPE, MEMORY USAGE, PTTL, DUMP): the scripts never write, so a
 * read-only replica runs them. They are used only where `Caps.batchScripts` holds (a standalone
 * Redis or Valkey that lets this user run EVAL): a cluster would refuse a batch whose keys span
 * slots, and Pika has no EVAL.
 */

/** TYPE of every key: `[type, ...]`. */
const TYPES = Buffer.from(
  `local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('TYPE', key).ok end
return out`,
);

/**
 * For every key, four replies: its type (nil where the DUMP payload names it); a size (MEMORY USAGE:
 * always where ARGV[2] is above 0, else when ARGV[1] is '1'; else nil); and where the key takes at most
 * ARGV[2] bytes, PTTL and the DUMP payload (else nil, nil). A key that is gone gives 'none' and three nils.
 *
 * Where payloads are wanted (ARGV[2] above 0), every key is sized first by MEMORY USAGE and, if small
 * enough, dumped: three calls (MEMORY USAGE, PTTL, DUMP), the type read by the client from the payload's
 * first byte (the RDB object type, rdb/object-types.ts). Only a key that is big, or whose payload
 * starts with an RDB type this version does not know, is asked TYPE. An earlier version asked OBJECT
 * ENCODING first and dumped the compact encodings at once, but sized every other key with TYPE and
 * MEMORY USAGE before its DUMP: on Redis 7.0, whose sets of strings and lists are never compact and
 * whose strings over 44 bytes are raw, that was 3.92 calls per key of the bench's small data. The
 * same three commands pipelined without a script were measured too: each costs the source about as
 * much as a call from Lua (about 0.9 µs here), so the source saved the same, but the client then
 * encodes three commands and parses three replies per key and waits for a second round trip, and
 * the TTL and payload are no longer read in one atomic step: the script stays, with fewer calls
 * (docs/performance.md has the figures).
 */
const PROBE_AND_DUMP = Buffer.from(
  `local withMemory = ARGV[1] == '1'
local dumpBelow = tonumber(ARGV[2])
local named = {${Object.keys(RDB_OBJECT_TYPES)
    .map((byte) => `[${byte}] = true`)
    .join(', ')}}
local out = {}
local n = 0
for _, key in ipairs(KEYS) do
  local t, m, pttl, payload = false, false, false, false
  if dumpBelow > 0 then
    m = redis.call('MEMORY', 'USAGE', key)
    if not m then
      t, m = 'none', false
    elseif m <= dumpBelow then
      pttl = redis.call('PTTL', key)
      payload = redis.call('DUMP', key) or false
      if not (payload and named[string.byte(payload, 1)]) then t = redis.call('TYPE', key).ok end
    else
      t = redis.call('TYPE', key).ok
    end
  else
    t = redis.call('TYPE', key).ok
    if withMemory and t ~= 'none' then m = redis.call('MEMORY', 'USAGE', key, 'SAMPLES', 5) or false end
  end
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = t, m, pttl, payload
  n = n + 4
end
return out`,
);

/** Replies per key of `probeAndDumpCommand`. */
export const PROBE_REPLIES_PER_KEY = 4;

/** One command that answers TYPE for every key of `keys`. */
export function typesCommand(keys: readonly Buffer[]): Command {
  return ['EVAL', TYPES, keys.length, ...keys];
}

/**
 * One command that answers, for every key, its type, its MEMORY USAGE (with `withMemory`) and, for
 * keys of at most `dumpBelow` bytes, the PTTL and DUMP payload read in the same instant (0: none).
 */
export function probeAndDumpCommand(
  keys: readonly Buffer[],
  withMemory: boolean,
  dumpBelow: number,
): Command {
  return ['EVAL', PROBE_AND_DUMP, keys.length, ...keys, withMemory ? '1' : '0', dumpBelow];
}

/** The one-key form run once at connect: proves EVAL and every command the scripts call are allowed. */
export function scriptCheckCommands(key: Buffer): Command[] {
  return [probeAndDumpCommand([key], true, 1024), typesCommand([key])];
}
