import type { Caps } from '../servers/caps.js';
import { now, type TargetClock } from '../servers/clock.js';
import {
  afterUnconfirmed,
  applyConfirmed,
  MAX_FAILOVER_ROUNDS,
  sendAndWait,
  UNCONFIRMED,
  UnconfirmedError,
} from '../servers/confirm.js';
import type { RespPipe } from '../servers/pipe.js';
import type { Command } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import { CODECS } from '../types/index.js';
import type { KeyAtWork, MergeOptions, NativeType } from '../types/strategy.js';
import type { WindowMerge } from '../types/window-ops.js';
import { WINDOWS } from '../types/windows.js';
import { type BigValueReader, readWindows } from './big-values.js';
import type { WriteDoor } from './door.js';
import { TEMP_LEASE_RENEW_MS, TEMP_TTL_MS, type TempKeys } from './temp-keys.js';
import {
  type Deadline,
  deadlineFrom,
  expireCommand,
  mergedDeadline,
  mergeTtlCommand,
  remaining,
} from './ttl.js';

/** One big key at work: `name` is the key on the target, `sourceKey` the key read on the source. */
export interface BigKeyJob extends KeyAtWork {
  type: NativeType;
  sourceKey: Buffer;
  action: 'create' | 'override' | 'merge';
  /** The target's name holds other types beside this one (Pika 3.x): an override empties this type alone. */
  shared: boolean;
  /** The journal holds the key's prior state already (a streamed copy that went to windows after all). */
  priorKept?: boolean;
}

export interface BigKeyEnv {
  /**
   * Where the value is read: a server through its hot-path transport (serverValues: TYPE and PTTL, the
   * windows, a stream's XINFO; a read sent again after a drop reaches a server whose SCAN cursor may
   * mean nothing: `lost` tells), or an RDB file.
   */
  values: BigValueReader;
  /**
   * The hot path's transport to the target: every read and write goes through it (the windows, the
   * temporary key's lease and deletion, the last step: RENAME or ZUNIONSTORE with the TTL in one
   * MULTI/EXEC), so that on a cluster it is routed by the slot Redis computes (ioredis's Cluster
   * computes another for a key such as `{}a}` and refuses the pair) and a slot moving mid-copy is
   * followed like any write.
   */
  target: Transport;
  sourceCaps: Caps;
  targetCaps: Caps;
  /**
   * A connection of its own to the target, for a value built inside one transaction: the windows
   * queue inside one MULTI that only that connection holds, which the shared transport cannot give
   * (its other traffic would land inside the transaction, and a reconnect would run it half queued).
   */
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
  /** Whether the source's connection was re-established: its cursor means nothing, the copy stops at once. */
  lost?(): boolean;
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
  if (result === 'written') env.door?.applied([{ name: job.name, type: job.type }]);
  return result;
}

async function copyOrMerge(env: BigKeyEnv, job: BigKeyJob): Promise<BigKeyResult> {
  const ops = WINDOWS[job.type];
  const sentAt = now();
  const [{ type, pttl, sentAt: readAt }, targetPttl] = await Promise.all([
    env.values.head(job.sourceKey),
    // Through the transport: a read it sends again after a drop (behind Sentinel, to the new master).
    job.action === 'merge' ? env.target.send([['PTTL', job.name]]).then(([r]) => Number(r)) : -1,
  ]);
  const deadline = ops.ttlKept?.(env.sourceCaps) === false ? null : deadlineFrom(pttl, readAt);
  const targetLife = deadlineFrom(targetPttl, sentAt);
  const targetDeadline = targetLife === 'gone' ? null : targetLife;
  // Where a name holds several types, TYPE names only the first: an empty read says "gone" instead.
  if (deadline === 'gone' || (!env.sourceCaps.multiTypeNames && type === null)) return 'gone';
  if (!env.sourceCaps.multiTypeNames && type !== job.type) return 'changed';
  if (!job.priorKept) await env.door?.before([{ name: job.name, type: job.type }]);
  if (job.action !== 'merge' && !env.targetCaps.rename) return copyInTransaction(env, job, deadline);
  for (let attempt = 1; ; attempt++) {
    try {
      return await copyWindows(env, job, deadline, targetDeadline);
    } catch (err) {
      if (!(err instanceof Rebuild)) throw err;
      if (attempt >= MAX_FAILOVER_ROUNDS) throw new UnconfirmedError(UNCONFIRMED);
      // A window of a value built aside was not confirmed (a failover, a replica that lags): built
      // again under a new temporary key on the master of the moment. The key itself was not touched yet.
      await afterUnconfirmed(env.target);
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
  const ops = WINDOWS[job.type];
  const buildsAside = job.action !== 'merge' || ops.mergeAside?.wanted(env.merge) === true;
  const tmp = buildsAside ? env.temp.create(job.name) : undefined;
  try {
    if (tmp) await env.door?.temp(tmp);
    const merging = tmp ? undefined : await mergeOf(env, job);
    const write = await windowWriter(env, job, tmp);
    let writing: Promise<void> = Promise.resolve();
    let elements = 0;
    let leasedAt = Number.NEGATIVE_INFINITY;
    const windows = env.values.windows(job.sourceKey, job.type, env.windowBytes, merging?.fromTail ?? false);
    for await (const window of windows) {
      if (env.lost?.() || (tmp && env.signal?.aborted)) {
        await writing;
        return 'interrupted';
      }
      const commands = merging ? await merging.commands(window) : ops.write(tmp!, window, env.targetCaps);
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
    if (tmp) await write(await env.values.tail(job.sourceKey, job.type, tmp, env.targetCaps));
    if (elements === 0) return 'gone';
    return await finish(env, job, tmp, deadline, targetDeadline);
  } finally {
    if (tmp) {
      // Renamed away on success; otherwise (expired, error, interrupted, rebuilt) it must not survive.
      // Confirmed like any write: behind Sentinel, a DEL the old master took during a failover is lost.
      await applyConfirmed(env.target, [['DEL', tmp]], { kind: 'again' }).catch(() => undefined);
      env.temp.release(tmp);
    }
  }
}

/** How the windows merge into the key itself (what the type reads of the target first, list union's). */
function mergeOf(env: BigKeyEnv, job: BigKeyJob): Promise<WindowMerge> {
  const ops = WINDOWS[job.type];
  // The configuration refuses to merge a type that cannot (SPEC §1.4): its windows are written as they come.
  if (!ops.merge) {
    const commands = async (window: Buffer[]) => ops.write(job.name, window, env.targetCaps);
    return Promise.resolve({ fromTail: false, commands });
  }
  return ops.merge({
    target: env.target,
    key: job.name,
    opts: env.merge,
    dialect: env.targetCaps,
    windowBytes: env.windowBytes,
  });
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
  const target = env.target;
  if (tmp) {
    return async (commands) => {
      if (commands.length > 0 && !(await sendAndWait(target, commands))) throw new Rebuild();
    };
  }
  const pushes = WINDOWS[job.type].pushes;
  let length = pushes ? Number((await target.send([CODECS[job.type].count(job.name)]))[0]) : Number.NaN;
  return async (commands) => {
    if (commands.length === 0) return;
    // All or nothing, so that a check after a drop sees the window applied or not, never half.
    const unit: Command[] =
      commands.length > 1 && env.targetCaps.transactions ? [['MULTI'], ...commands, ['EXEC']] : commands;
    if (!pushes) return applyConfirmed(target, unit, { kind: 'again' });
    const pushed = pushes(commands);
    await applyConfirmed(target, unit, { kind: 'length', key: job.name, before: length, pushed });
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
  const key = job.name;
  if (job.action === 'merge' && !tmp) {
    const ttl = mergeTtlCommand(key, env.merge.ttl, deadline, targetDeadline, now(), env.clock);
    if (ttl) await applyConfirmed(env.target, [ttl], { kind: 'again' });
    return 'written';
  }
  const commands: Command[] = [];
  let wanted: Deadline = deadline;
  const fold = job.action === 'merge' ? WINDOWS[job.type].mergeAside?.fold : undefined;
  if (fold) {
    // zset sum: ZUNIONSTORE replaces the key, so the merged lifetime is set afresh. The aside is
    // deleted in the same transaction: after an unconfirmed WAIT its absence tells that the sum was applied.
    commands.push(fold(key, tmp!));
    wanted = mergedDeadline(env.merge.ttl, deadline, targetDeadline);
  } else {
    commands.push(['RENAME', tmp!, key]);
  }
  const ttl = remaining(wanted);
  if (ttl !== null && ttl <= 0 && !fold) return 'expired';
  commands.push(wanted === null ? ['PERSIST', key] : expireCommand(key, wanted, env.clock));
  if (fold) commands.push(['DEL', tmp!]);
  const unit: Command[] = [['MULTI'], ...commands, ['EXEC']];
  // The windows were confirmed, so the temporary key is there (on every replica): where it is gone
  // after a drop or a failover, this step was applied (RENAME and the sum's DEL remove it); where it
  // is there, it was not, and it is sent again.
  await applyConfirmed(env.target, unit, { kind: 'removes', key: tmp! });
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
  const ops = WINDOWS[job.type];
  const tx = await env.openTarget();
  try {
    const key = job.name;
    await queue(tx, [['MULTI']], false);
    if (job.action === 'override') {
      if (!job.shared) await queue(tx, [['DEL', key]]);
      else if (ops.clearReads) {
        // Emptying one type needs its members: read from the target in windows, before EXEC runs.
        for await (const window of readWindows(env.target, key, job.type, env.windowBytes)) {
          await queue(tx, CODECS[job.type].clear(key, window));
        }
      } else await queue(tx, CODECS[job.type].clear(key, null));
    }
    if (job.shared && ops.startShared) await queue(tx, ops.startShared(key));
    let elements = 0;
    for await (const window of env.values.windows(job.sourceKey, job.type, env.windowBytes, false)) {
      if (env.signal?.aborted || env.lost?.()) return 'interrupted';
      elements += window.length;
      await queue(tx, ops.write(key, window, env.targetCaps));
    }
    const tail = await env.values.tail(job.sourceKey, job.type, key, env.targetCaps);
    if (tail.length > 0) await queue(tx, tail);
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
