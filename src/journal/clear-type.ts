import { sendIdempotent } from '../servers/confirm.js';
import type { Command } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import { clearCommands } from '../types/clear.js';
import { CODECS } from '../types/index.js';
import type { NativeType } from '../types/strategy.js';
import { valueWindows } from '../write/windows.js';

/** Bytes of a hash's or set's members held at a time while it is emptied. */
const CLEAR_WINDOW_BYTES = 256 * 1024;
/** Passes over a hash or set before giving up (a pass misses only members added meanwhile). */
const CLEAR_PASSES = 5;
const REFUSED = 'the target refused to empty one type of a key';

/**
 * Empties one type of a name and leaves its other types as they are, without knowing its present
 * value: for a put-back on Pika 3.x, where one name holds several types and DEL removes them all
 * (servers/caps.ts, multiTypeNames). A type that needs no read is emptied by types/clear.ts's
 * commands; a hash or set is read a window at a time (HSCAN, SSCAN) and what came is deleted, so
 * memory holds one window whatever its size. Idempotent.
 */
export async function clearType(target: Transport, key: Buffer, type: NativeType): Promise<void> {
  const commands = clearCommands(key, type);
  if (commands) {
    await sendIdempotent(target, commands, REFUSED);
    return;
  }
  const ask = async (command: Command) => (await target.send([command]))[0] ?? null;
  for (let pass = 0; pass < CLEAR_PASSES; pass++) {
    for await (const items of valueWindows(ask, key, type, { windowBytes: CLEAR_WINDOW_BYTES })) {
      await sendIdempotent(target, CODECS[type].clear(key, items), REFUSED);
    }
    if ((await ask(CODECS[type].count(key))) === 0) return;
  }
  throw new Error(`the target's ${type} at the key kept members through ${CLEAR_PASSES} passes of deletes`);
}
