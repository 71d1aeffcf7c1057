import type { DataType, MergeOptions, NativeType } from '../decide/types.js';
import type { Reply, RespPipe } from '../redis/pipe.js';
import type { Command } from './commands.js';
import { type Dialect, REDIS_DIALECT } from './native/codec.js';
import { CODECS } from './native/index.js';
import type { SourceValue } from './read.js';
import {
  type Deadline,
  expireCommand,
  mergeTtlCommand,
  now,
  relativeTtl,
  remaining,
  type TargetClock,
} from './ttl.js';

export interface WriteItem {
  /** The key on the target. */
  key: Buffer;
  type: DataType;
  action: 'create' | 'override' | 'merge';
  value: Extract<SourceValue, { state: 'ok' }>;
  targetDeadline: Deadline;
  /** The target's present value of this type, for merges that need it and for `shared` overrides. */
  current?: unknown;
  /**
   * The target's name holds other types beside this one (Pika 3.x), which DEL would remove too:
   * an override empties this type alone, from `current`.
   */
  shared?: boolean;
}

export type WriteResult =
  | { status: 'written' }
  /** The source value's lifetime ran out before it could be written: nothing was sent. */
  | { status: 'expired' }
  /** The dump path cannot carry this key: read and write it natively. `wholeRun`: nor any later key. */
  | { status: 'native'; reason: string; wholeRun: boolean }
  /** The target changed under us (a key appeared where none was): decide the key again. */
  | { status: 'retry'; reason: string }
  | { status: 'failed'; message: string };

export interface WriteOptions {
  merge: MergeOptions;
  /** The target's proto-max-bulk-len: a larger RESTORE payload would make it drop the connection. */
  protoMaxBulkLen: number;
  clock: TargetClock;
  /** The target's commands and options (Pika: HMSET, no ZADD flags, no XSETID). */
  dialect?: Dialect;
}

type Planned = { commands: Command[]; transaction: boolean } | WriteResult;

/**
 * The commands that apply one step to the target (SPEC §2.1, §2.4), or the result without sending
 * anything. Create and override replace atomically: one RESTORE [REPLACE] or SET, or MULTI/EXEC
 * around DEL + writes + PEXPIRE. A merge is applied server-side inside MULTI/EXEC so that no reader
 * sees it half done. Pure, apart from reading the clock for the remaining TTL.
 */
export function planWrite(item: WriteItem, opts: WriteOptions, at = now()): Planned {
  const { key, type, action, value } = item;
  const dialect = opts.dialect ?? REDIS_DIALECT;
  if (action === 'merge') {
    const codec = CODECS[type as NativeType];
    const commands = codec.merge(key, value.native, opts.merge, item.current, dialect);
    const ttl = mergeTtlCommand(key, opts.merge.ttl, value.deadline, item.targetDeadline, at, opts.clock);
    if (ttl) commands.push(ttl);
    return { commands, transaction: commands.length > 1 };
  }
  const ttl = remaining(value.deadline, at);
  if (ttl !== null && ttl <= 0) return { status: 'expired' };
  const deadline = value.deadline;
  const absolute =
    deadline === null || opts.clock.offset === null ? null : Math.floor(deadline + opts.clock.offset);
  if (value.dump) {
    if (value.dump.length > opts.protoMaxBulkLen) {
      return { status: 'native', reason: 'payload over the target proto-max-bulk-len', wholeRun: false };
    }
    const restore: Command =
      absolute === null
        ? ['RESTORE', key, ttl ?? 0, value.dump]
        : ['RESTORE', key, absolute, value.dump, 'ABSTTL'];
    if (action === 'override') restore.push('REPLACE');
    return { commands: [restore], transaction: false };
  }
  if (type === 'string') {
    // SET replaces a value of any type and its TTL in one atomic command.
    const set: Command = ['SET', key, value.native as Buffer];
    if (absolute !== null && !opts.clock.setPxat) {
      return { commands: [set, ['PEXPIREAT', key, absolute]], transaction: true };
    }
    if (absolute !== null) set.push('PXAT', absolute);
    else if (ttl !== null) set.push('PX', relativeTtl(ttl, opts.clock));
    return { commands: [set], transaction: false };
  }
  if (type === 'other')
    return { status: 'failed', message: 'a module type can only be copied with DUMP/RESTORE' };
  const codec = CODECS[type];
  const commands: Command[] = [];
  if (action === 'override')
    commands.push(...(item.shared ? codec.clear(key, item.current ?? null) : [['DEL', key] as Command]));
  commands.push(...codec.write(key, value.native, dialect));
  if (deadline !== null) commands.push(expireCommand(key, deadline, opts.clock, at));
  return { commands, transaction: commands.length > 1 };
}

/** Sends the writes of a batch in one pipeline and says what became of each. */
export async function writeBatch(
  target: RespPipe,
  items: readonly WriteItem[],
  opts: WriteOptions,
): Promise<WriteResult[]> {
  const results: WriteResult[] = new Array(items.length);
  const commands: Command[] = [];
  // For each item: the index of the reply that tells its fate (EXEC for a transaction).
  const replyAt: number[] = new Array(items.length).fill(-1);
  const at = now();
  items.forEach((item, i) => {
    const planned = planWrite(item, opts, at);
    if ('status' in planned) {
      results[i] = planned;
      return;
    }
    // A merge can have nothing to send (a list union that adds nothing): the step is still applied.
    if (planned.commands.length === 0) {
      results[i] = { status: 'written' };
      return;
    }
    if (planned.transaction) commands.push(['MULTI'], ...planned.commands, ['EXEC']);
    else commands.push(...planned.commands);
    replyAt[i] = commands.length - 1;
  });
  if (commands.length === 0) return results;
  const replies = await target.send(commands);
  items.forEach((item, i) => {
    const at = replyAt[i]!;
    if (at < 0) return;
    results[i] = outcome(replies[at]!, item);
  });
  return results;
}

/** The fate of one item from its reply; an EXEC reply holds one reply per queued command. */
function outcome(reply: Reply, item: WriteItem): WriteResult {
  if (reply instanceof Error) return classify(reply, item);
  if (Array.isArray(reply)) {
    const failure = reply.find((r): r is Error => r instanceof Error);
    if (failure) return classify(failure, item);
  }
  return { status: 'written' };
}

/** What an error reply means for the key and the rest of the run. */
function classify(err: Error, item: WriteItem): WriteResult {
  const message = err.message;
  if (item.value.dump) {
    if (/payload version or checksum/i.test(message)) {
      return { status: 'native', reason: 'payload rejected by target', wholeRun: true };
    }
    if (/unknown command/i.test(message))
      return { status: 'native', reason: 'target has no RESTORE', wholeRun: true };
    if (/NOPERM/.test(message))
      return { status: 'native', reason: 'RESTORE not permitted on target', wholeRun: true };
    if (/BUSYKEY/.test(message)) return { status: 'retry', reason: 'key appeared on the target meanwhile' };
  }
  return { status: 'failed', message: message.split('\n')[0]! };
}
