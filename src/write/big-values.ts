import type { Caps } from '../servers/caps.js';
import { now } from '../servers/clock.js';
import type { Command, Reply } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import type { DataType, NativeType } from '../types/strategy.js';
import { typeFromReply } from '../types/type-reply.js';
import { WINDOWS } from '../types/windows.js';
import { valueWindows } from './windows.js';

/** What a big key holds when its copy starts: its type (null: gone) and its remaining life. */
export interface BigValueHead {
  type: DataType | null;
  /** As PTTL answers: ms left, -1 without a TTL, -2 gone. */
  pttl: number;
  /** When that was read (servers/clock.ts `now()`), for the deadline it gives. */
  sentAt: number;
}

/**
 * Where a big key's value is read from, window by window (SPEC §2.3): a server, through its commands
 * (serverValues), or an RDB file, from its bytes (sources/rdb-file.ts). The big-key copy (bigkey.ts)
 * asks only this, so that both kinds of source take the same copy, merge and transaction paths.
 */
export interface BigValueReader {
  head(key: Buffer): Promise<BigValueHead>;
  /** The value in windows of about `windowBytes`, in the codecs' flat layout (write/windows.ts). */
  windows(key: Buffer, type: NativeType, windowBytes: number, fromTail: boolean): AsyncGenerator<Buffer[]>;
  /** What the value holds beside its windows (a stream's last id and groups), as commands on `into`; asked after the windows. */
  tail(key: Buffer, type: NativeType, into: Buffer, targetCaps: Caps): Promise<Command[]>;
}

/**
 * A server's big values: TYPE and PTTL, then HSCAN/SSCAN/ZSCAN, LRANGE, XRANGE or GETRANGE windows
 * through `source` (its hot-path transport). An error reply is thrown: the key fails with it rather
 * than being copied in part.
 */
export function serverValues(source: Transport, sourceCaps: Caps): BigValueReader {
  return {
    async head(key) {
      const sentAt = now();
      const [type, pttl] = await source.send([
        ['TYPE', key],
        ['PTTL', key],
      ]);
      return { type: typeFromReply(type), pttl: Number(pttl), sentAt };
    },
    windows: (key, type, windowBytes, fromTail) => readWindows(source, key, type, windowBytes, fromTail),
    tail: async (key, type, into, targetCaps) =>
      (await WINDOWS[type].tail?.(source, key, into, sourceCaps, targetCaps)) ?? [],
  };
}

/** A value in windows read through `server` (the source's, or the target's for what an override empties). */
export function readWindows(
  server: Transport,
  key: Buffer,
  type: NativeType,
  windowBytes: number,
  fromTail = false,
): AsyncGenerator<Buffer[]> {
  const ask = async (command: Command): Promise<Reply> => {
    const [reply = null] = await server.send([command]);
    if (reply instanceof Error) throw reply;
    return reply;
  };
  return valueWindows(ask, key, type, { windowBytes, fromTail });
}
