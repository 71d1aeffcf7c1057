import { now, type TargetClock } from '../servers/clock.js';
import {
  confirming,
  createsCheck,
  DEFAULT_WAIT_MS,
  FAILOVER_PAUSE_MS,
  type LostCheck,
  MAX_FAILOVER_ROUNDS,
  replicated,
  resolveLost,
  UNCONFIRMED,
} from '../servers/confirm.js';
import { replyIs } from '../servers/errors/classify.js';
import { RepliesLostError } from '../servers/pipe.js';
import type { Command, Reply } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import { type Dialect, REDIS_DIALECT } from '../types/codec.js';
import { CODECS, TYPES } from '../types/index.js';
import type { BeforeMerge, LostMergeCheck } from '../types/lost-merge.js';
import type { KeyAtWork, MergeOptions, NativeType } from '../types/strategy.js';
import type { StepKey, WriteDoor } from './door.js';
import { outcome, WRITTEN, type WriteResult } from './outcome.js';
import type { SourceValue } from './read.js';
import {
  type Deadline,
  expireCommand,
  fieldExpiryCommands,
  mergeTtlCommand,
  relativeTtl,
  remaining,
  restoresAbsolute,
  restoreTtl,
} from './ttl.js';

export interface WriteItem extends KeyAtWork {
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
  /** List merges: the target list's length before this step, to tell after a drop whether it applied. */
  targetLength?: number;
}

export type { WriteResult } from './outcome.js';

export interface WriteOptions {
  merge: MergeOptions;
  /** The target's proto-max-bulk-len: a larger RESTORE payload would make it drop the connection. */
  protoMaxBulkLen: number;
  clock: TargetClock;
  /** The target's commands and options (Pika: HMSET, no ZADD flags, no XSETID). */
  dialect?: Dialect;
  /** The backup journal (--backup): every unit's prior state is made durable before anything is sent. */
  door?: WriteDoor;
}

type Planned = { commands: Command[]; transaction: boolean } | WriteResult;

/**
 * The commands that apply one step to the target (SPEC §2.1, §2.4), or the result without sending
 * anything. Create and override replace atomically: one RESTORE [REPLACE] or SET, or MULTI/EXEC
 * around DEL + writes + PEXPIRE. A merge is applied server-side inside MULTI/EXEC so that no reader
 * sees it half done. Pure, apart from reading the clock for the remaining TTL.
 */
export function planWrite(item: WriteItem, opts: WriteOptions, at = now()): Planned {
  const { name: key, type, action, value } = item;
  const dialect = opts.dialect ?? REDIS_DIALECT;
  if (action === 'merge') {
    const codec = CODECS[type as NativeType];
    const commands = codec.merge(key, value.native, opts.merge, item.current, dialect);
    // HSETNX leaves the target's fields as they were, expiries and all: which fields it added is
    // not known inside the transaction, so the source's field expiries go only with HSET (`source`).
    if (opts.merge.hashField === 'source') commands.push(...fieldExpiries(item, dialect, opts, at));
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
    // Made at its final length: an array grown by push() past its literal's length is copied into a
    // new backing store of some twenty slots, for every key with a TTL or replaced.
    const ttlArg = restoreTtl(deadline, opts.clock, at);
    const absoluteTtl = restoresAbsolute(deadline, opts.clock);
    const restore: Command =
      action === 'override'
        ? absoluteTtl
          ? ['RESTORE', key, ttlArg, value.dump, 'ABSTTL', 'REPLACE']
          : ['RESTORE', key, ttlArg, value.dump, 'REPLACE']
        : absoluteTtl
          ? ['RESTORE', key, ttlArg, value.dump, 'ABSTTL']
          : ['RESTORE', key, ttlArg, value.dump];
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
  commands.push(...codec.write(key, value.native, dialect), ...fieldExpiries(item, dialect, opts, at));
  if (deadline !== null) commands.push(expireCommand(key, deadline, opts.clock, at));
  return { commands, transaction: commands.length > 1 };
}

/** A hash's own field expiries, where the value carries them and the target keeps them (Redis 7.4+). */
function fieldExpiries(item: WriteItem, dialect: Dialect, opts: WriteOptions, at: number): Command[] {
  const fields = item.value.fieldDeadlines;
  if (item.type !== 'hash' || !fields?.length || !dialect.hashFieldTtls) return [];
  return fieldExpiryCommands(item.name, fields, opts.clock, at);
}

/** One item's commands on their way: a single command or a MULTI/EXEC, applied whole or not at all. */
interface InFlight {
  item: WriteItem;
  index: number;
  commands: Command[];
  /**
   * The replies of the type's readBefore() (a zset sum: its members' scores), read just before the
   * commands are sent, so that after a drop or a failover they tell whether the merge was applied.
   */
  before?: Reply[];
}

/** The check that tells a lost merge of this item applied or not; undefined where sending it again is harmless. */
const lostMergeOf = (item: WriteItem): LostMergeCheck | undefined =>
  item.action === 'merge' && item.type !== 'other' ? TYPES[item.type].lostMerge : undefined;

/**
 * When the units left are given up as failed: after rounds of "check, then send again" that settle
 * nothing, at least this many in a row and for at least STALL_MS. A round that settles some units
 * (their replies came before the next drop) starts the count again. Each round follows a reconnection
 * that succeeded (one that fails ends the batch with the connection's error), so a link that drops
 * several times within a second, in the middle of one large group, is retried rather than failed.
 */
const MAX_RESOLVE_ROUNDS = 5;
const STALL_MS = 2_000;

/**
 * Sends the writes of a batch in one pipeline and says what became of each. A unit is one step of one
 * key: a single command or a MULTI/EXEC, so on the server it is applied entirely or not at all.
 *
 * After a dropped connection (SPEC §6.4), the units whose reply came are settled by it; each other unit
 * may or may not have been applied, and is resolved without ever being applied twice (SPEC §1.6):
 * - create: EXISTS tells (the probe saw no key, and a unit is all-or-nothing): present means applied,
 *   absent means it is sent again;
 * - override, and the idempotent merges (hash, set, zset with source/target/max/min scores): applying
 *   them again gives the same value, so they are sent again;
 * - list append/prepend/union: the list's length before the step is known (LLEN read with the merge's
 *   TTL, or the list read for a union), so LLEN tells: before + pushed means applied, before means not
 *   (sent again), anything else cannot be told and the key fails with that reason;
 * - zset `sum` (ZINCRBY): the members' scores are read (ZSCORE) in a round trip of their own just before
 *   the units are sent (readScoresBefore): all moved by their increments means applied, none moved means
 *   sent again, anything else cannot be told and the key fails with that reason, never added twice.
 * The resolution assumes that nothing else writes these keys of the target during the run.
 *
 * Behind Sentinel and on a cluster (where the transport ends each node's pipeline with WAIT) the same
 * resolution settles the writes that WAIT did not confirm on the replicas
 * (sendUnits), with one more rule: a unit found applied counts only once the replicas have caught up
 * with the master (`replicated`), since a check is not a write and WAIT after it would confirm nothing.
 */
export async function writeBatch(
  target: Transport,
  items: readonly WriteItem[],
  opts: WriteOptions,
): Promise<WriteResult[]> {
  const results: WriteResult[] = new Array(items.length);
  const units: InFlight[] = [];
  const at = now();
  items.forEach((item, i) => {
    const planned = planWrite(item, opts, at);
    if ('status' in planned) {
      results[i] = planned;
      return;
    }
    // A merge can have nothing to send (a list union that adds nothing): the step is still applied.
    if (planned.commands.length === 0) {
      results[i] = WRITTEN;
      return;
    }
    const commands: Command[] = planned.transaction
      ? [['MULTI'], ...planned.commands, ['EXEC']]
      : planned.commands;
    // `before` set now, not added later by readScoresBefore: one object shape for every unit.
    units.push({ item, index: i, commands, before: undefined });
  });
  // DESIGN.md seam 5: nothing is sent before the journal holds every key's prior state.
  // The items name their steps themselves (a WriteItem is a StepKey): no object per key for the door.
  const steps = (list: InFlight[]): StepKey[] => list.map((u) => u.item);
  if (opts.door) await opts.door.before(steps(units));
  let pending = await sendUnits(target, units, results);
  // Behind Sentinel a failover takes seconds (and the old master keeps its clients a while): more rounds.
  const rounds = target.failover === undefined ? MAX_RESOLVE_ROUNDS : MAX_FAILOVER_ROUNDS;
  let stalledSince = now();
  for (let stalled = 0; pending.length > 0; ) {
    if (stalled >= rounds && now() - stalledSince >= STALL_MS) {
      const message = confirming(target) ? UNCONFIRMED : LOST;
      for (const u of pending) results[u.index] = { status: 'failed', message };
      break;
    }
    const { again, present, epoch } = await settleLost(target, pending, results);
    let unconfirmed: InFlight[] = [];
    if (present.length > 0) {
      const keys = present.map((u) => u.item.name);
      if (await replicated(target, epoch, keys)) {
        for (const u of present) results[u.index] = WRITTEN;
      } else unconfirmed = present;
    }
    const before = pending.length;
    pending = [...unconfirmed, ...(await sendUnits(target, again, results))];
    if (pending.length < before) {
      stalled = 0;
      stalledSince = now();
    } else stalled++;
    if (unconfirmed.length > 0) {
      await target.failover?.followMaster();
      await new Promise((r) => setTimeout(r, FAILOVER_PAUSE_MS));
    }
  }
  if (opts.door) {
    const written: StepKey[] = [];
    for (const u of units) if (results[u.index]?.status === 'written') written.push(u.item);
    opts.door.applied(written);
  }
  return results;
}

/** Whether any of replies[from..to] (inclusive) is a READONLY refusal; a loop, not a slice per unit. */
function anyReadonly(replies: readonly Reply[], from: number, to: number): boolean {
  for (let i = from; i <= to; i++) if (replyIs(replies[i], 'readonly')) return true;
  return false;
}

/** What a merge's check knows of the target from before the merge was sent. */
const known = (u: InFlight): BeforeMerge => ({
  key: u.item.name,
  targetLength: u.item.targetLength,
  before: u.before,
});

const LOST = 'the connection dropped with this write in flight and its outcome could not be told';
/**
 * Sends units in one pipeline; settles those whose reply came, returns those whose fate is unknown.
 *
 * Behind Sentinel (`target.failover` set), the pipeline ends with `WAIT <replicas> <timeout>`:
 * replication is asynchronous, and a write that the master acknowledged but no replica received is lost
 * when a replica is promoted (the old master resynchronises from it). Units applied but not confirmed
 * by WAIT are unknown, and resolved like units whose reply a drop hid: on the master of that moment,
 * which after a failover is the new one. With 0 replicas there is nothing to wait for: Sentinel cannot
 * promote a replica that does not exist, so the master's copy is the one that survives. A unit refused
 * with READONLY (the master was demoted under us) was not applied; it is resolved the same way.
 */
async function sendUnits(target: Transport, units: InFlight[], results: WriteResult[]): Promise<InFlight[]> {
  if (units.length === 0) return [];
  await readScoresBefore(target, units);
  // Sized once and filled by index: no growth and no spread call per unit.
  let count = 0;
  for (const u of units) count += u.commands.length;
  const commands: Command[] = new Array(count);
  const first = new Int32Array(units.length);
  const last = new Int32Array(units.length);
  let at = 0;
  for (let n = 0; n < units.length; n++) {
    first[n] = at;
    const own = units[n]!.commands;
    for (let c = 0; c < own.length; c++) commands[at++] = own[c]!;
    last[n] = at - 1;
  }
  await target.failover?.refreshReplicas();
  const replicas = target.failover?.replicas ?? 0;
  if (replicas > 0) commands.push(['WAIT', replicas, target.failover?.waitTimeoutMs ?? DEFAULT_WAIT_MS]);
  let replies: Reply[];
  let lost = false;
  try {
    replies = await target.send(commands, { resend: false });
  } catch (err) {
    if (!(err instanceof RepliesLostError)) throw err;
    replies = err.replies;
    lost = true;
  }
  const acked = replicas > 0 ? replies[commands.length - 1] : replicas;
  const confirmed = typeof acked === 'number' && acked >= replicas;
  let demoted = false;
  const unknown: InFlight[] = [];
  units.forEach((u, n) => {
    const at = last[n]!;
    if (at >= replies.length) {
      unknown.push(u);
      return;
    }
    if (anyReadonly(replies, first[n]!, at)) {
      demoted = true;
      unknown.push(u);
      return;
    }
    const result = outcome(replies[at]!, u.item.value.dump !== undefined);
    if (result.status === 'written' && !confirmed) unknown.push(u);
    else results[u.index] = result;
  });
  if (!lost && confirmed && !demoted && unknown.length > 0) {
    throw new Error('internal: replies missing without a lost connection');
  }
  if (!lost && (demoted || !confirmed)) await target.failover?.followMaster();
  return unknown;
}

/**
 * Behind Sentinel and on a cluster, where a failover drops every connection: the scores of the members a
 * zset sum increments, read just before the units are sent, so that after a drop or an unconfirmed WAIT
 * the scores then tell whether the sum was applied (resolveLost). A read of its own, which the transport
 * sends again after a drop, so that a drop never leaves a sum without them. What it reads is what the
 * master that survives holds too: every earlier step of these keys was confirmed on its replicas.
 */
async function readScoresBefore(target: Transport, units: InFlight[]): Promise<void> {
  const reads: Command[] = [];
  const from = new Map<InFlight, [number, number]>();
  for (const u of units) {
    u.before = undefined;
    const asks = lostMergeOf(u.item)?.readBefore(u.commands);
    if (!asks || asks.length === 0) continue;
    from.set(u, [reads.length, asks.length]);
    reads.push(...asks);
  }
  if (reads.length === 0) return;
  const replies = await target.send(reads);
  for (const [u, [at, n]] of from) u.before = replies.slice(at, at + n);
}

/**
 * For units whose outcome a drop (or an unconfirmed WAIT) hid: each unit's check (servers/confirm.ts
 * resolveLost, the one resolver) settles the unknowable and sorts the rest into those to send again and
 * those found applied (`present`, still to be confirmed on the replicas behind Sentinel and on a cluster).
 */
async function settleLost(
  target: Transport,
  units: InFlight[],
  results: WriteResult[],
): Promise<{ again: InFlight[]; present: InFlight[]; epoch: number | undefined }> {
  const { verdicts, epoch } = await resolveLost(target, units.map(lostCheck));
  const again: InFlight[] = [];
  const present: InFlight[] = [];
  units.forEach((u, n) => {
    const { applied, why } = verdicts[n]!;
    if (applied === 'applied') present.push(u);
    else if (applied === 'not applied') again.push(u);
    else results[u.index] = { status: 'failed', message: why ?? LOST };
  });
  return { again, present, epoch };
}

/**
 * How a unit is told applied: a create (RESTORE without REPLACE) by its key's presence; a merge by its
 * type's check (a list push, a zset sum); anything else (an override, a merge that applies the same
 * value twice) is sent again.
 */
function lostCheck(u: InFlight): LostCheck | null {
  const { item } = u;
  if (item.action === 'create') return createsCheck(item.name, LOST);
  const check = lostMergeOf(item);
  const reads = check?.reads(u.commands, known(u));
  if (!check || !reads) return null;
  return {
    key: item.name,
    reads,
    judge: (replies) => check.judge(u.commands, known(u), replies),
    unknown: () => `${LOST}${check.unknownNote}`,
  };
}
