import type { WriteDoor } from '../journal/types.js';
import { SeenKeys } from '../scan/seen-keys.js';
import type { Caps } from '../servers/caps.js';
import { now, type TargetClock } from '../servers/clock.js';
import type { RespPipe } from '../servers/pipe.js';
import type { Command, Reply } from '../servers/resp.js';
import type { Control } from '../servers/server.js';
import type { Transport } from '../servers/transport.js';
import { CODECS } from '../types/index.js';
import type { MergeOptions, NativeType } from '../types/strategy.js';
import { type StreamValue, streamCodec } from '../types/stream/codec.js';
import { typeFromReply } from '../types/type-reply.js';
import {
  afterUnconfirmed,
  applyConfirmed,
  MAX_FAILOVER_ROUNDS,
  sendAndWait,
  UNCONFIRMED,
  UnconfirmedError,
} from './confirm.js';
import { TEMP_LEASE_RENEW_MS, TEMP_TTL_MS, type TempKeys } from './temp-keys.js';
import {
  type Deadline,
  deadlineFrom,
  expireCommand,
  mergedDeadline,
  mergeTtlCommand,
  remaining,
} from './ttl.js';
import { MAX_WINDOW, MIN_WINDOW, valueWindows } from './windows.js';

export interface BigKeyJob {
  sourceKey: Buffer;
  targetKey: Buffer;
  type: NativeType;
  action: 'create' | 'override' | 'merge';
  /** The target's name holds other types beside this one (Pika 3.x): an override empties this type alone. */
  shared: boolean;
}

export interface BigKeyEnv {
  source: Control;
  target: Control;
  sourceCaps: Caps;
  targetCaps: Caps;
  /**
   * The hot path's transport to the target: every write goes through it (the windows, the temporary
   * key's lease and deletion, the last step: RENAME or ZUNIONSTORE with the TTL in one MULTI/EXEC), so
   * that on a cluster it is routed by the slot Redis computes (ioredis's Cluster computes another for a
   * key such as `{}a}` and refuses the pair) and a slot moving mid-copy is followed like any write.
   */
  transport: Transport;
  /** A connection of its own to the target, for a value built inside one transaction. */
  openTarget(): Promise<RespPipe>;
  merge: MergeOptions;
  temp: TempKeys;
  /** Bytes a window aims at: bounds what one window holds in memory and what one command carries. */
  windowBytes: number;
  clock: TargetClock;
  /**
   * Ctrl-C: a value built aside (create, override, a zset sum) stops between windows and leaves the
   * key as it was; a merge applied to the key itself goes on to its last window (SPEC §4: in-flight
   * work settles), since stopping it would leave the key half merged, which without a journal no
   * run can tell.
   */
  signal?: AbortSignal;
  /** The source's connection was re-established: its cursor means nothing, the copy stops at once. */
  lost?: AbortSignal;
  /** The backup journal (--backup): the key's prior state and the temporary key's name, before any write. */
  door?: WriteDoor;
}

export type BigKeyResult = 'written' | 'expired' | 'gone' | 'changed' | 'interrupted';

/**
 * Copies or merges one big key window by window (SPEC §2.3), so that neither kvmerge nor one
 * command holds the whole value. Create and override build the value under a temporary key in
 * the same slot and RENAME it over the key with its TTL in one MULTI/EXEC: a reader sees the old
 * value or the new one, never half (SPEC §2.4). A target without RENAME (Pika) gets the windows
 * queued inside one MULTI on a connection of its own instead (copyInTransaction). A merge applies
 * the windows to the key itself, except a zset `sum`, which is built aside and folded in with
 * ZUNIONSTORE so that a member SCAN returns twice is not added twice (SPEC §1.6).
 */
export async function copyBigKey(env: BigKeyEnv, job: BigKeyJob): Promise<BigKeyResult> {
  const result = await copyOrMerge(env, job);
  if (result === 'written') env.door?.applied([{ key: job.targetKey, type: job.type }]);
  return result;
}

async function copyOrMerge(env: BigKeyEnv, job: BigKeyJob): Promise<BigKeyResult> {
  const { source } = env;
  const sentAt = now();
  const [replies, targetPttl] = await Promise.all([
    source.pipeline().type(job.sourceKey).pttl(job.sourceKey).exec() as Promise<[Error | null, unknown][]>,
    // Through the transport: a read it sends again after a drop (behind Sentinel, to the new master).
    job.action === 'merge' ? env.transport.send([['PTTL', job.targetKey]]).then(([r]) => Number(r)) : -1,
  ]);
  const type = typeFromReply(replies[0]![1]);
  const pttl = replies[1]![1];
  const deadline =
    job.type === 'stream' && !env.sourceCaps.streamTtl ? null : deadlineFrom(Number(pttl), sentAt);
  const targetLife = deadlineFrom(targetPttl, sentAt);
  const targetDeadline = targetLife === 'gone' ? null : targetLife;
  // Where a name holds several types, TYPE names only the first: an empty read says "gone" instead.
  if (deadline === 'gone' || (!env.sourceCaps.multiTypeNames && type === null)) return 'gone';
  if (!env.sourceCaps.multiTypeNames && type !== job.type) return 'changed';
  await env.door?.before([{ key: job.targetKey, type: job.type }]);
  if (job.action !== 'merge' && !env.targetCaps.rename) return copyInTransaction(env, job, deadline);
  for (let attempt = 1; ; attempt++) {
    try {
      return await copyWindows(env, job, deadline, targetDeadline);
    } catch (err) {
      if (!(err instanceof Rebuild)) throw err;
      if (attempt >= MAX_FAILOVER_ROUNDS) throw new UnconfirmedError(UNCONFIRMED);
      // A window of a value built aside was not confirmed (a failover, a replica that lags): built
      // again under a new temporary key on the master of the moment. The key itself was not touched yet.
      await afterUnconfirmed(env.transport);
    }
  }
}

/** Behind Sentinel or on a cluster, a window written to a temporary key was not confirmed: build the value again. */
class Rebuild extends Error {}

/** The windows, then the last step; a value built aside under a temporary key that is always removed. */
async function copyWindows(
  env: BigKeyEnv,
  job: BigKeyJob,
  deadline: Deadline,
  targetDeadline: Deadline,
): Promise<BigKeyResult> {
  const { source, target } = env;
  const buildsAside = job.action !== 'merge' || (job.type === 'zset' && env.merge.zsetScore === 'sum');
  const tmp = buildsAside ? env.temp.create(job.targetKey) : undefined;
  try {
    if (tmp) await env.door?.temp(tmp);
    const into = tmp ?? job.targetKey;
    const held =
      job.action === 'merge' && job.type === 'list' && env.merge.list === 'union'
        ? await fingerprintList(target, job.targetKey, env.windowBytes)
        : undefined;
    const write = await windowWriter(env, job, tmp);
    let writing: Promise<void> = Promise.resolve();
    let elements = 0;
    let leasedAt = Number.NEGATIVE_INFINITY;
    for await (const window of readWindows(
      source,
      job.sourceKey,
      job.type,
      env,
      job.action === 'merge' && env.merge.list === 'prepend',
    )) {
      if (env.lost?.aborted || (tmp && env.signal?.aborted)) {
        await writing;
        return 'interrupted';
      }
      const commands = await windowCommands(env, job, into, window, tmp !== undefined, held);
      // The temporary key's lease: set with the first window, renewed well before it could run out.
      if (tmp && now() - leasedAt > TEMP_LEASE_RENEW_MS) {
        commands.push(['PEXPIRE', tmp, TEMP_TTL_MS]);
        leasedAt = now();
      }
      elements += window.length;
      // Write window k while window k+1 is read: two windows in memory at most.
      await writing;
      writing = write(commands);
      // Awaited before the next window is written; until then a failure must not count as unhandled.
      writing.catch(() => undefined);
    }
    await writing;
    if (job.type === 'stream' && tmp) await write(await streamTail(env, job.sourceKey, tmp));
    if (elements === 0) return 'gone';
    return await finish(env, job, tmp, deadline, targetDeadline);
  } finally {
    if (tmp) {
      // Renamed away on success; otherwise (expired, error, interrupted, rebuilt) it must not survive.
      // Confirmed like any write: behind Sentinel, a DEL the old master took during a failover is lost.
      await applyConfirmed(env.transport, [['DEL', tmp]], { kind: 'again' }).catch(() => undefined);
      env.temp.release(tmp);
    }
  }
}

/**
 * How the windows of one key are sent: each counts once its reply came and, behind Sentinel and on a
 * cluster, once WAIT confirms it on the master's replicas (confirm.ts), so that it is on the master
 * that survives a failover. A window whose reply a dropped connection hid, or that WAIT did not
 * confirm, may or may not be there: one written to a temporary key makes the value be built again
 * (Rebuild; the key itself is untouched until the last step); one merged into the key is resolved and
 * sent again only where that cannot apply it twice (a list's windows are told by LLEN against the
 * length before them, which this tracks; without MULTI, a window half applied cannot be told and
 * the key fails).
 */
async function windowWriter(
  env: BigKeyEnv,
  job: BigKeyJob,
  tmp: Buffer | undefined,
): Promise<(commands: Command[]) => Promise<void>> {
  const transport = env.transport;
  if (tmp) {
    return async (commands) => {
      if (commands.length > 0 && !(await sendAndWait(transport, commands))) throw new Rebuild();
    };
  }
  let length =
    job.type === 'list' ? Number((await transport.send([['LLEN', job.targetKey]]))[0]) : Number.NaN;
  return async (commands) => {
    if (commands.length === 0) return;
    // All or nothing, so that a check after a drop sees the window applied or not, never half.
    const unit: Command[] =
      commands.length > 1 && env.targetCaps.transactions ? [['MULTI'], ...commands, ['EXEC']] : commands;
    if (job.type !== 'list') return applyConfirmed(transport, unit, { kind: 'again' });
    const pushed = commands.reduce(
      (n, c) => n + (c[0] === 'RPUSH' || c[0] === 'LPUSH' ? c.length - 2 : 0),
      0,
    );
    await applyConfirmed(transport, unit, { kind: 'length', key: job.targetKey, before: length, pushed });
    length += pushed;
  };
}

/** The last step: rename the built value over the key with its lifetime, or fold it in (zset sum), or set the merged TTL. */
async function finish(
  env: BigKeyEnv,
  job: BigKeyJob,
  tmp: Buffer | undefined,
  deadline: Deadline,
  targetDeadline: Deadline,
): Promise<BigKeyResult> {
  const key = job.targetKey;
  if (job.action === 'merge' && !tmp) {
    const ttl = mergeTtlCommand(key, env.merge.ttl, deadline, targetDeadline, now(), env.clock);
    if (ttl) await applyConfirmed(env.transport, [ttl], { kind: 'again' });
    return 'written';
  }
  const commands: Command[] = [];
  let wanted: Deadline = deadline;
  if (job.action === 'merge') {
    // zset sum: ZUNIONSTORE replaces the key, so the merged lifetime is set afresh. The aside is
    // deleted in the same transaction: after an unconfirmed WAIT its absence tells that the sum was applied.
    commands.push(['ZUNIONSTORE', key, 2, key, tmp!, 'AGGREGATE', 'SUM']);
    wanted = mergedDeadline(env.merge.ttl, deadline, targetDeadline);
  } else {
    commands.push(['RENAME', tmp!, key]);
  }
  const ttl = remaining(wanted);
  if (ttl !== null && ttl <= 0 && job.action !== 'merge') return 'expired';
  commands.push(wanted === null ? ['PERSIST', key] : expireCommand(key, wanted, env.clock));
  if (job.action === 'merge') commands.push(['DEL', tmp!]);
  const unit: Command[] = [['MULTI'], ...commands, ['EXEC']];
  // The windows were confirmed, so the temporary key is there (on every replica): where it is gone
  // after a drop or a failover, this step was applied (RENAME and the sum's DEL remove it); where it
  // is there, it was not, and it is sent again.
  await applyConfirmed(env.transport, unit, { kind: 'removes', key: tmp! });
  return 'written';
}

/**
 * Copies a big key into a target without RENAME (Pika) inside one MULTI on a connection of its
 * own: DEL (or, where the name holds other types, this type's own emptying), every window, the TTL,
 * then EXEC. The server holds the queued windows; kvmerge holds one at a time. A reader sees the
 * old value or the new one, never half (SPEC §2.4), and an interruption or an error closes the
 * connection, which discards the transaction: nothing of it reaches the key.
 */
async function copyInTransaction(env: BigKeyEnv, job: BigKeyJob, deadline: Deadline): Promise<BigKeyResult> {
  const tx = await env.openTarget();
  try {
    const key = job.targetKey;
    await queue(tx, [['MULTI']], false);
    if (job.action === 'override') {
      if (!job.shared) await queue(tx, [['DEL', key]]);
      else if (job.type === 'hash' || job.type === 'set') {
        // Emptying one type needs its members: read from the target in windows, before EXEC runs.
        for await (const window of readWindows(env.target, key, job.type, env, false)) {
          await queue(tx, CODECS[job.type].clear(key, window));
        }
      } else await queue(tx, CODECS[job.type].clear(key, null));
    }
    if (job.type === 'string' && job.shared) await queue(tx, [['SET', key, '']]);
    let elements = 0;
    for await (const window of readWindows(env.source, job.sourceKey, job.type, env, false)) {
      if (env.signal?.aborted || env.lost?.aborted) return 'interrupted';
      elements += window.length;
      await queue(tx, await windowCommands(env, job, key, window, true, undefined));
    }
    if (job.type === 'stream') await queue(tx, await streamTail(env, job.sourceKey, key));
    if (elements === 0) return 'gone';
    const ttl = remaining(deadline);
    if (ttl !== null && ttl <= 0) return 'expired';
    if (deadline !== null) await queue(tx, [expireCommand(key, deadline, env.clock)]);
    const [results] = await tx.send([['EXEC']], { resend: false });
    if (results instanceof Error) throw results;
    if (!Array.isArray(results)) throw new Error('transaction aborted');
    const failure = results.find((r): r is Error => r instanceof Error);
    if (failure) throw failure;
    return 'written';
  } finally {
    // Closing before EXEC discards what was queued.
    tx.close();
  }
}

/** Queues commands inside an open MULTI and throws unless each was queued (or answered OK, for MULTI). */
async function queue(tx: RespPipe, commands: Command[], queued = true): Promise<void> {
  const replies = await tx.send(commands, { resend: false });
  for (const reply of replies) {
    if (reply instanceof Error) throw reply;
    const text = Buffer.isBuffer(reply) ? reply.toString() : String(reply);
    if (text !== (queued ? 'QUEUED' : 'OK')) throw new Error(`unexpected reply inside MULTI: ${text}`);
  }
}

async function windowCommands(
  env: BigKeyEnv,
  job: BigKeyJob,
  into: Buffer,
  window: Buffer[],
  aside: boolean,
  held: SeenKeys | undefined,
): Promise<Command[]> {
  if (job.type === 'string') return [['APPEND', into, window[0]!]];
  if (job.type === 'stream') {
    return (window as unknown as StreamValue['entries']).map(
      ([id, fields]) => ['XADD', into, id, ...fields] as Command,
    );
  }
  const codec = CODECS[job.type];
  const dialect = env.targetCaps;
  if (aside) return codec.write(into, window, dialect);
  if (held) {
    // List union over windows: what the target list holds, and what earlier windows added.
    const added = window.filter((item) => held.add(item));
    return added.length > 0 ? codec.write(into, added, dialect) : [];
  }
  const current = codec.needsCurrent?.(env.merge, dialect)
    ? await scoresOnTarget(env.target, into, window)
    : undefined;
  return codec.merge(into, window, env.merge, current, dialect);
}

/** The target's scores of a window's members (score, member, …), for a ZADD without NX/GT/LT (Pika). */
async function scoresOnTarget(target: Control, key: Buffer, pairs: Buffer[]): Promise<Buffer[]> {
  const pipeline = target.pipeline();
  for (let i = 1; i < pairs.length; i += 2) pipeline.zscoreBuffer(key, pairs[i]!);
  const replies = (await pipeline.exec()) as [Error | null, Buffer | null][];
  const current: Buffer[] = [];
  replies.forEach(([err, score], n) => {
    if (err) throw err;
    if (score) current.push(score, pairs[n * 2 + 1]!);
  });
  return current;
}

/** Stream metadata that XADD does not carry: the last id and the consumer groups, where both sides have them. */
async function streamTail(env: BigKeyEnv, key: Buffer, into: Buffer): Promise<Command[]> {
  const pipeline = env.source.pipeline().callBuffer('XINFO', 'STREAM', key);
  // Pika never answers XINFO GROUPS: it is not asked there.
  if (env.sourceCaps.streamGroups) pipeline.callBuffer('XINFO', 'GROUPS', key);
  const replies = (await pipeline.exec()) as [Error | null, Reply][];
  const value = streamCodec.decode([[], replies[0]![1], replies[1]?.[1]]);
  if (!value) return [];
  return streamCodec
    .write(into, { ...value, entries: [] }, env.targetCaps)
    .filter(([name]) => name !== 'XADD');
}

/** The value in windows of about `windowBytes`, in the codec's flat layout (windows.ts), read through `server`. */
function readWindows(
  server: Control,
  key: Buffer,
  type: NativeType,
  env: BigKeyEnv,
  fromTail: boolean,
): AsyncGenerator<Buffer[]> {
  const ask = (command: Command): Promise<Reply> =>
    server.callBuffer(String(command[0]), ...command.slice(1)) as Promise<Reply>;
  return valueWindows(ask, key, type, { windowBytes: env.windowBytes, fromTail });
}

/** Fingerprints of the target list's elements, read in windows (for list union). */
async function fingerprintList(target: Control, key: Buffer, windowBytes: number): Promise<SeenKeys> {
  const held = new SeenKeys();
  const length = Number(await target.llen(key));
  const step = Math.max(MIN_WINDOW, Math.min(MAX_WINDOW, Math.floor(windowBytes / 64)));
  for (let start = 0; start < length; start += step) {
    for (const item of (await target.lrangeBuffer(key, start, start + step - 1)) as Buffer[]) held.add(item);
  }
  return held;
}
