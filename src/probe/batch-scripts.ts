import type { Command } from '../write/commands.js';

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
 * For every key, four replies: TYPE; MEMORY USAGE (when ARGV[1] is '1', else nil); and where the
 * key takes at most ARGV[2] bytes, PTTL and the DUMP payload (else nil, nil). A key that is gone
 * gives 'none' and three nils.
 */
const PROBE_AND_DUMP = Buffer.from(
  `local withMemory = ARGV[1] == '1'
local dumpBelow = tonumber(ARGV[2])
local out = {}
local n = 0
for _, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key).ok
  local m, pttl, payload = false, false, false
  if t ~= 'none' then
    if withMemory then m = redis.call('MEMORY', 'USAGE', key, 'SAMPLES', 5) or false end
    if m and m <= dumpBelow then
      pttl = redis.call('PTTL', key)
      payload = redis.call('DUMP', key) or false
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
