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
 * Only read commands are called (TYPE, OBJECT ENCODING, MEMORY USAGE, PTTL, DUMP): the scripts never write, so a
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
 * For every key, four replies: TYPE; a size (when ARGV[1] is '1', else nil); and where the key takes
 * at most ARGV[2] bytes, PTTL and the DUMP payload (else nil, nil). A key that is gone gives 'none'
 * and three nils.
 *
 * Most keys of a shard are small, held in a compact encoding (embstr, int, intset, listpack, ziplist)
 * whose size the server's own thresholds bound (`*-max-listpack-entries`/`-value`, 44 bytes for
 * embstr): where payloads are wanted (ARGV[2] above 0), such a key is dumped at once, its type read
 * from the payload's first byte (the RDB object type) and its size taken as the payload's length.
 * That is three calls (OBJECT ENCODING, DUMP, PTTL) where TYPE and MEMORY USAGE made four: each call
 * from Lua costs about as much as the command itself. Any other encoding (a raw string, a quicklist,
 * a hashtable, a skiplist, a stream, a module type), or an RDB type this table does not know, takes
 * the general path: TYPE, MEMORY USAGE, then PTTL and DUMP if it is small enough.
 */
const PROBE_AND_DUMP = Buffer.from(
  `local withMemory = ARGV[1] == '1'
local dumpBelow = tonumber(ARGV[2])
local compact = {embstr = true, int = true, intset = true, listpack = true, ziplist = true}
local rdbType = {[0] = 'string', [1] = 'list', [2] = 'set', [3] = 'zset', [4] = 'hash', [5] = 'zset',
  [10] = 'list', [11] = 'set', [12] = 'zset', [13] = 'hash', [14] = 'list', [16] = 'hash',
  [17] = 'zset', [18] = 'list', [20] = 'set'}
local out = {}
local n = 0
for _, key in ipairs(KEYS) do
  local t, m, pttl, payload = false, false, false, false
  if dumpBelow > 0 then
    local encoding = redis.call('OBJECT', 'ENCODING', key)
    if not encoding then
      t = 'none'
    elseif compact[encoding] then
      local dumped = redis.call('DUMP', key)
      local known = dumped and rdbType[string.byte(dumped, 1)]
      if known and #dumped <= dumpBelow then
        t, m, payload = known, #dumped, dumped
        pttl = redis.call('PTTL', key)
      end
    end
  end
  if not t then
    t = redis.call('TYPE', key).ok
    if t ~= 'none' then
      if withMemory then m = redis.call('MEMORY', 'USAGE', key, 'SAMPLES', 5) or false end
      if m and m <= dumpBelow then
        pttl = redis.call('PTTL', key)
        payload = redis.call('DUMP', key) or false
      end
    end
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
