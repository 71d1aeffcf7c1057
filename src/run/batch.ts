import type { Redis } from 'ioredis';
import type { MergePlan, SourcePlan } from '../config/plan.js';
import { RunError } from '../errors.js';
import type { Backup } from '../journal/backup.js';
import type { StepKey, WriteDoor } from '../journal/types.js';
import type { AbsenceGuess } from '../probe/absence.js';
import { type HolderView, type KeyProbe, probeBatch, type Unit } from '../probe/probe.js';
import type { Caps } from '../redis/capabilities.js';
import type { RespPipe } from '../redis/pipe.js';
import type { ClusterView, Control } from '../redis/server.js';
import type { Transport } from '../redis/transport.js';
import type { Tally } from '../report/tally.js';
import type { DataType, Decision, NativeType } from '../types/strategy.js';
import { surelySmallBelow } from '../write/big-threshold.js';
import { copyBigKey } from '../write/bigkey.js';
import type { ByteBudget } from '../write/budget.js';
import type { Command } from '../write/commands.js';
import { UnconfirmedError } from '../write/confirm.js';
import { CODECS } from '../write/native/index.js';
import { type ReadHow, readValues, type SourceValue } from '../write/read.js';
import type { TempKeys } from '../write/temp-keys.js';
import { type Deadline, deadlineFrom, now, type TargetClock } from '../write/ttl.js';
import { type WriteItem, writeBatch } from '../write/writer.js';
import { decide, foldTypes } from './decide.js';

/** State shared by every batch of a run. */
export interface RunContext {
  plan: MergePlan;
  /** Control connection to the target (big keys): a Redis, or a Cluster routing by slot. */
  target: Control;
  /** The hot path's connection to the target (probe, writes): a pipe, or one per master of a cluster. */
  targetPipe: Transport;
  tally: Tally;
  /** The target takes RESTORE payloads; turned off for the rest of the run by a fallback (SPEC §2.1). */
  targetRestores: boolean;
  /** Why keys that want the dump path are written natively (reported as a fallback per key). */
  nativeReason?: string;
  /** What the target can do (DESIGN.md seam 1). */
  targetCaps: Caps;
  /**
   * Opens another connection to the target (a big key built in one transaction needs its own); it
   * is never re-established after a drop.
   */
  openTarget(): Promise<RespPipe>;
  clock: TargetClock;
  /** Bytes of values in memory at once, across batches (SPEC §2.2). */
  budget: ByteBudget;
  temp: TempKeys;
  /** The backup journal (--backup, SPEC §6.2): the writer journals through its door before each change. */
  backup?: Backup;
  /** Whether the probe may leave the target unasked about small keys it dumped (probe/absence.ts). */
  absence: AbsenceGuess;
  signal?: AbortSignal;
  /**
   * Set when the run must stop (SPEC §4 exit 1). Checked before each write group (DESIGN.md seam 6):
   * once set, nothing more is written, whatever the concurrency (but for the batches before a
   * typeMismatch stop, see stopAt).
   */
  stopped?: RunError;
  /**
   * The scan-order number of the batch where a typeMismatch `fail` stopped the run: batches before it
   * still finish their writes, it and later ones write nothing (SPEC §1.2: the run stops at that key).
   */
  stopAt?: number;
  /**
   * A key that cannot be written (SPEC §6.4): listed in --failed-keys; under `--on-error stop` (and for
   * a typeMismatch `fail`, `stops: true`) it also stops the run at that key.
   */
  keyFailed(src: SourceRun, key: Buffer, type: string, reason: string, stops: boolean): void;
  log(line: string): void;
}

/** One source being merged. */
export interface SourceRun {
  index: number;
  plan: SourcePlan;
  /** Control connection (big keys): a Redis, or a Cluster routing by slot. */
  redis: Control;
  /** One connection per master (standalone: `redis`): each is scanned. */
  nodes: Redis[];
  /** A cluster source: its layout and masters, for the scanner (reshards, failovers, new masters). */
  cluster?: ClusterView;
  /** The hot path's connection to this source (probe, value reads). */
  pipe: Transport;
  /** The source gives DUMP payloads; turned off by a refusal. */
  dumps: boolean;
  /** Why this source is read natively though the mode wants DUMP. */
  nativeReason?: string;
  /** What the source can do (DESIGN.md seam 1). */
  caps: Caps;
  /** The sources before this one, to predict the fold and count overlaps. */
  earlier: HolderView[];
}

const MAX_ATTEMPTS = 3;
/** Values read and written together in one group: many small keys per round trip, a bounded amount of bytes. */
const GROUP_BYTES = 8 * 1024 * 1024;
/** A window of a big key aims at this many bytes. */
export const WINDOW_BYTES = 4 * 1024 * 1024;
const EXPIRED: Decision = { action: 'expired', conflict: false, typeMismatch: false };

type Step = {
  probe: KeyProbe;
  type: DataType;
  decision: Decision;
  targetType: DataType | null;
  overlap: boolean;
};

/** A key as a map key: latin1 keeps every byte. */
const nameOf = (key: Buffer): string => key.toString('latin1');
type RecordStep = (step: Step, decision: Decision) => void;

/**
 * Carries one batch through probe → decide → read → write → account. Every unit of the batch ends
 * in exactly one counter, except units that must be decided again (the source or the target changed
 * between two round trips): those go round once more, up to MAX_ATTEMPTS.
 *
 * Where a source name holds several types (Pika 3.x), each (name, type) is its own step of the fold,
 * in TYPE_ORDER: the scanner lists one type after the other, and a real run writes the first type of
 * a name found in this batch, then the next ones in later rounds, so each sees what the one before it
 * wrote; a dry run folds the name's earlier types into its prediction. The name's overlap with
 * earlier sources is counted once, on its first type.
 */
export async function processBatch(
  ctx: RunContext,
  src: SourceRun,
  units: Unit[],
  attempt = 1,
  /**
   * `order`: orders the batches of a source for a stop (SPEC §1.2 typeMismatch `fail`): this batch
   * decides only once `earlier` (the batch before it has decided) resolves, then calls `decided()`; a
   * run stopped by then records and writes nothing of this batch, whatever the concurrency.
   */
  { order }: { order?: { seq: number; earlier?: Promise<void>; decided?(): void } } = {},
): Promise<void> {
  const { plan, tally } = ctx;
  const probes = await probeBatch(
    { pipe: src.pipe, caps: src.caps },
    src.plan.prefix,
    { pipe: ctx.targetPipe, caps: ctx.targetCaps },
    src.earlier,
    units,
    {
      withMemory: !plan.dryRun,
      dryRun: plan.dryRun,
      dumpBelow: prefetchBelow(ctx, src),
      // A key decided again (it appeared on the target meanwhile, BUSYKEY) is asked about.
      assumeAbsent: attempt === 1 && ctx.absence.on,
    },
  );
  const halted = (): boolean =>
    ctx.stopped !== undefined && (ctx.stopAt === undefined || order === undefined || order.seq >= ctx.stopAt);
  if (order?.earlier) await order.earlier;
  if (halted()) {
    order?.decided?.();
    return;
  }
  const record: RecordStep = (step, decision) =>
    tally.record({
      sourceIndex: src.index,
      key: step.probe.targetKey,
      type: step.type,
      targetType: step.targetType,
      decision,
      sourceOverlap: step.overlap,
    });

  const again: Unit[] = [];
  const later: Unit[] = [];
  const toWrite: Step[] = [];
  // Names of this round that already have a unit in it (a name that holds several types).
  const taken = new Set<string>();
  const targetMulti = ctx.targetCaps.multiTypeNames;
  for (const probe of probes) {
    const name = nameOf(probe.sourceKey);
    if (probe.type !== null && taken.has(name) && !plan.dryRun) {
      later.push({ key: probe.sourceKey, type: probe.type });
      continue;
    }
    if (probe.type !== null) taken.add(name);
    // The types this source holds under the name that are folded before this one (TYPE_ORDER).
    const type = probe.type;
    const before =
      type === null ? [] : probe.sourceTypes.slice(0, Math.max(0, probe.sourceTypes.indexOf(type)));
    const overlap = probe.earlierHolders === 1 && before.length === 0;
    if (probe.type === null && probe.ifHeld) continue;
    if (probe.type === null) {
      tally.record({
        sourceIndex: src.index,
        key: probe.targetKey,
        type: 'none',
        targetType: probe.targetType,
        decision: EXPIRED,
        sourceOverlap: overlap,
      });
      continue;
    }
    // A dry run writes nothing, so the target does not show what earlier sources (and earlier types
    // of the same name) would have done: fold their types over the target's to predict the step
    // (SPEC §1.2, §5.3). Where the target keeps types side by side, only the same type folds.
    const folded = [...probe.earlier, ...before];
    const targetType = plan.dryRun
      ? foldTypes(
          probe.targetType,
          targetMulti ? folded.filter((t) => t === probe.type) : folded,
          plan.strategies,
        )
      : probe.targetType;
    const decision = decide(probe.type, targetType, plan.strategies);
    const step: Step = { probe, type: probe.type, decision, targetType, overlap };
    const { action } = decision;
    const unwritable = action !== 'skip' && action !== 'fail' && refusal(ctx, probe);
    if (unwritable) {
      record(step, { ...decision, action: 'fail' });
      if (!plan.dryRun) ctx.keyFailed(src, probe.targetKey, probe.type, unwritable, false);
    } else if (plan.dryRun || action === 'skip' || action === 'fail') {
      record(step, decision);
      if (action === 'fail' && !plan.dryRun) {
        if (!ctx.stopped && order) ctx.stopAt = order.seq;
        ctx.keyFailed(src, probe.targetKey, probe.type, mismatchError(src, step).message, true);
      }
    } else {
      toWrite.push(step);
    }
  }

  order?.decided?.();
  if (halted()) return;
  const sized = await sizeUp(ctx, src, toWrite);
  const big: Step[] = [];
  // Values whose payload is over the target's proto-max-bulk-len, found while writing the groups.
  const tooLarge: Step[] = [];
  let group: Step[] = [];
  let groupBytes = 0;
  const flush = async (): Promise<void> => {
    if (group.length === 0 || halted()) return;
    const steps = group;
    const taken = await ctx.budget.acquire(groupBytes);
    group = [];
    groupBytes = 0;
    try {
      await readAndWrite(ctx, src, steps, record, again, tooLarge, halted);
    } finally {
      ctx.budget.release(taken);
    }
  };
  for (const [i, step] of toWrite.entries()) {
    const { isBig, bytes } = sized[i]!;
    if (isBig) {
      big.push(step);
      continue;
    }
    if (groupBytes + bytes > GROUP_BYTES) await flush();
    group.push(step);
    groupBytes += bytes;
  }
  await flush();
  for (const step of [...big, ...tooLarge]) {
    if (halted()) return;
    await copyBig(ctx, src, step, record, again);
  }

  if (again.length > 0 && !halted()) {
    if (attempt < MAX_ATTEMPTS)
      await processBatch(ctx, src, again, attempt + 1, { order: order && { seq: order.seq } });
    else if (!ctx.stopped) {
      ctx.stopped = new RunError(
        `${again.length} key(s) kept changing while being merged (e.g. ${describeKey(again[0]!.key)})`,
      );
    }
  }
  if (later.length > 0 && !ctx.stopped && !ctx.signal?.aborted)
    await processBatch(ctx, src, later, 1, { order: order && { seq: order.seq } });
}

/**
 * Below how many bytes (MEMORY USAGE) the probe reads a value's payload along with its type, so that a
 * copy needs no read of its own: where the dump path is taken, the size that sizeUp clears without
 * counting elements (a larger value may be a big key, to be copied in windows). 0 where nothing is
 * written (a dry run) or written natively.
 */
function prefetchBelow(ctx: RunContext, src: SourceRun): number {
  const { plan } = ctx;
  if (plan.dryRun || plan.write.mode === 'native' || !ctx.targetRestores || !src.dumps) return 0;
  return surelySmallBelow(plan.write);
}

/** Why the target cannot take this key at all, if it cannot (SPEC §7): counted as failed, never written. */
function refusal(ctx: RunContext, probe: KeyProbe): string | undefined {
  if (!ctx.targetCaps.nulInKeys && probe.targetKey.includes(0)) {
    return `the target (${ctx.targetCaps.kind} ${ctx.targetCaps.version}) cuts keys at a NUL byte`;
  }
  return undefined;
}

/** The unit to decide again: on a source of one type per name, the key (its type may have changed). */
function retryUnit(src: SourceRun, step: Step): Unit {
  return src.caps.multiTypeNames
    ? { key: step.probe.sourceKey, type: step.type }
    : { key: step.probe.sourceKey };
}

/**
 * Which keys are big (SPEC §2.3: over bigKeyElements elements or bigKeyBytes bytes) and roughly how
 * many bytes each will take in memory. MEMORY USAGE from the probe clears most keys at once; the
 * few it cannot clear (and every key where the server does not answer it) get an element count.
 */
async function sizeUp(
  ctx: RunContext,
  src: SourceRun,
  steps: Step[],
): Promise<{ isBig: boolean; bytes: number }[]> {
  const { bigKeyElements, bigKeyBytes } = ctx.plan.write;
  const clearBelow = surelySmallBelow(ctx.plan.write);
  const out = steps.map((step) => ({ isBig: false, bytes: step.probe.memory ?? 1024 }));
  const counted: number[] = [];
  const asks: Command[] = [];
  steps.forEach((step, i) => {
    const memory = step.probe.memory;
    if (step.type === 'other') return; // only DUMP/RESTORE can carry it, whatever its size
    if (memory !== undefined && memory > bigKeyBytes) out[i]!.isBig = true;
    else if (memory === undefined || memory > clearBelow) {
      asks.push(CODECS[step.type].count(step.probe.sourceKey));
      counted.push(i);
    }
  });
  if (counted.length === 0) return out;
  const replies = await src.pipe.send(asks);
  counted.forEach((i, n) => {
    const reply = replies[n];
    const count = typeof reply === 'number' ? reply : 0;
    const step = steps[i]!;
    const entry = out[i]!;
    if (step.type === 'string') entry.isBig = count > bigKeyBytes;
    else entry.isBig = count > bigKeyElements;
    if (step.probe.memory === undefined) entry.bytes = step.type === 'string' ? count : count * 64;
  });
  return out;
}

/** Reads a group of values (and, for list union, the target lists), writes them, and re-reads natively what the dump path could not carry. */
async function readAndWrite(
  ctx: RunContext,
  src: SourceRun,
  steps: Step[],
  record: RecordStep,
  again: Unit[],
  tooLarge: Step[],
  /** The run stopped at or before this batch: send nothing more. */
  halted: () => boolean,
): Promise<void> {
  const { plan, tally } = ctx;
  const dumpPath = (): boolean => plan.write.mode !== 'native' && ctx.targetRestores && src.dumps;
  // A step decided on a target assumed to lack its key may only be a RESTORE without REPLACE (which
  // refuses to overwrite): any other way to write it is decided again, with the target asked.
  const assumed = (step: Step): boolean => step.probe.targetAssumed === true;
  const decideAgain = (step: Step): void => {
    again.push(retryUnit(src, step));
  };
  const toRead = steps.flatMap((step) => {
    if (assumed(step) && !dumpPath()) {
      decideAgain(step);
      return [];
    }
    const copies = step.decision.action !== 'merge';
    if (copies && plan.write.mode !== 'native' && !dumpPath() && step.type !== 'other') {
      tally.fallback(ctx.nativeReason ?? src.nativeReason ?? 'native path', 1, fallbackAt(src, step));
    }
    return [{ step, how: (copies && dumpPath() ? 'dump' : 'native') as ReadHow }];
  });
  while (toRead.length > 0) {
    const reading = toRead.splice(0);
    // With --backup, the prior states are journaled while the values are read; the writer's door waits
    // for that before it sends anything (the keys it writes are among these).
    const door =
      ctx.backup &&
      journalAhead(
        ctx.backup.door(src.index),
        reading.map(({ step, how }) => ({
          key: step.probe.targetKey,
          type: step.type,
          // A create on the dump path is a RESTORE without REPLACE: it never overwrites a key.
          absent: step.decision.action === 'create' && how === 'dump',
        })),
      );
    const values = await readForWrite(ctx, src, reading);
    const writing: { step: Step; item: WriteItem }[] = [];
    reading.forEach(({ step }, i) => {
      const { value, current } = values[i]!;
      if (value.state === 'gone') record(step, EXPIRED);
      else if (value.state === 'changed') again.push(retryUnit(src, step));
      else if (value.state === 'refused') {
        if (src.dumps) ctx.log(`source ${src.plan.name} refuses DUMP (${value.message}); reading natively`);
        src.dumps = false;
        src.nativeReason = 'source refuses DUMP';
        if (assumed(step)) decideAgain(step);
        else if (step.type === 'other') unsupported(ctx, src, step, record);
        else {
          tally.fallback(src.nativeReason, 1, fallbackAt(src, step));
          toRead.push({ step, how: 'native' });
        }
      } else {
        writing.push({
          step,
          item: {
            key: step.probe.targetKey,
            type: step.type,
            action: step.decision.action as WriteItem['action'],
            value,
            targetDeadline: values[i]!.targetDeadline,
            current,
            shared: sharesName(ctx, step),
            targetLength: values[i]!.targetLength,
          },
        });
      }
    });

    // Stop at the failing key (SPEC §1.2, §6.4): a group not yet sent is not sent.
    if (halted()) return;
    const results = await writeBatch(
      ctx.targetPipe,
      writing.map((w) => w.item),
      {
        merge: plan.merge,
        protoMaxBulkLen: ctx.targetCaps.protoMaxBulkLen,
        clock: ctx.clock,
        dialect: ctx.targetCaps,
        door,
      },
    );
    let assumedSent = 0;
    let assumedRefused = 0;
    results.forEach((result, i) => {
      const { step } = writing[i]!;
      if (assumed(step)) {
        assumedSent++;
        if (result.status === 'retry') assumedRefused++;
      }
      switch (result.status) {
        case 'written':
          record(step, step.decision);
          break;
        case 'expired':
          record(step, EXPIRED);
          break;
        case 'retry':
          again.push(retryUnit(src, step));
          break;
        case 'native':
          if (result.wholeRun && ctx.targetRestores) {
            ctx.targetRestores = false;
            ctx.nativeReason = result.reason;
            ctx.log(`${result.reason}: writing natively from now on`);
          }
          if (assumed(step)) {
            decideAgain(step);
            break;
          }
          tally.fallback(result.reason, 1, fallbackAt(src, step));
          if (step.type === 'other') unsupported(ctx, src, step, record);
          // Over proto-max-bulk-len: one SET or RESTORE could not carry it either; windows can.
          else if (!result.wholeRun) tooLarge.push(step);
          else toRead.push({ step, how: 'native' });
          break;
        case 'failed':
          record(step, { ...step.decision, action: 'fail' });
          ctx.keyFailed(src, step.probe.targetKey, step.type, result.message, false);
      }
    });
    if (assumedSent > 0) ctx.absence.record(assumedSent, assumedRefused);
  }
}

/**
 * A door whose journaling of these steps has already started: its `before` waits for it (the writer
 * only ever asks for steps among these). A failure surfaces there, not as an unhandled rejection.
 */
function journalAhead(door: WriteDoor, steps: StepKey[]): WriteDoor {
  const journaled = door.before(steps);
  journaled.catch(() => undefined);
  return { ...door, before: () => journaled };
}

/** One big key, window by window, within the byte budget. */
async function copyBig(
  ctx: RunContext,
  src: SourceRun,
  step: Step,
  record: RecordStep,
  again: Unit[],
): Promise<void> {
  const taken = await ctx.budget.acquire(WINDOW_BYTES * 2);
  // A window read on a connection that was re-established may come from a restarted server, where
  // the HSCAN/SSCAN/ZSCAN cursor means nothing and windows would be skipped: the copy is abandoned
  // (create and override leave the target key as it was) and the key fails with that reason.
  const lost = new AbortController();
  const onReconnect = (): void => lost.abort();
  src.redis.on('ready', onReconnect);
  try {
    // Behind Sentinel a window that can be neither confirmed nor told lost fails its key, not the run.
    const result = await copyBigKey(
      {
        source: src.redis,
        target: ctx.target,
        transport: ctx.targetPipe,
        sourceCaps: src.caps,
        targetCaps: ctx.targetCaps,
        openTarget: ctx.openTarget,
        merge: ctx.plan.merge,
        temp: ctx.temp,
        clock: ctx.clock,
        // A window must fit in one bulk string of the target.
        windowBytes: Math.min(WINDOW_BYTES, Math.floor(ctx.targetCaps.protoMaxBulkLen / 4)),
        signal: ctx.signal,
        lost: lost.signal,
        door: ctx.backup?.door(src.index),
      },
      {
        sourceKey: step.probe.sourceKey,
        targetKey: step.probe.targetKey,
        type: step.type as NativeType,
        action: step.decision.action as 'create' | 'override' | 'merge',
        shared: sharesName(ctx, step),
      },
    ).catch((err: unknown) => {
      // A server's error reply (OOM, NOPERM, a limit) fails this key as it fails a small one, and
      // --on-error decides whether the run goes on; anything else (a lost server) stops the run.
      const refused = err instanceof Error && err.name === 'ReplyError';
      if (!(err instanceof UnconfirmedError) && !refused) throw err;
      const left =
        step.decision.action === 'merge'
          ? 'the windows sent before it stay merged'
          : 'the target key was left as it was';
      const reason = refused ? `${err.message.split('\n')[0]} (${left})` : err.message;
      record(step, { ...step.decision, action: 'fail' });
      ctx.keyFailed(src, step.probe.targetKey, step.type, reason, false);
      return 'failed' as const;
    });
    if (result === 'failed') return;
    if (lost.signal.aborted && !ctx.signal?.aborted) {
      record(step, { ...step.decision, action: 'fail' });
      const left =
        step.decision.action === 'merge'
          ? 'the windows sent before stay merged'
          : result === 'written'
            ? 'its value on the target may be incomplete'
            : 'the target key was left as it was';
      ctx.keyFailed(
        src,
        step.probe.targetKey,
        step.type,
        `the source connection was lost during this big key's windowed copy (${left}); run again for this key`,
        false,
      );
    } else if (result === 'written') record(step, step.decision);
    else if (result === 'expired' || result === 'gone') record(step, EXPIRED);
    else if (result === 'changed') again.push(retryUnit(src, step));
  } finally {
    src.redis.off('ready', onReconnect);
    ctx.budget.release(taken);
  }
}

/**
 * An override on a target where the name holds other types beside this one (Pika 3.x): DEL would
 * remove them too, so only this type is emptied.
 */
function sharesName(ctx: RunContext, step: Step): boolean {
  return ctx.targetCaps.multiTypeNames && step.probe.targetTypes.some((t) => t !== step.type);
}

/**
 * Reads the source values and, for merges, the target's TTL (for merge.ttl) and, where the step
 * needs it (a list union, a zset rule the target's ZADD cannot apply, a shared-name override), the
 * target's present value, all in one round trip to each side.
 */
async function readForWrite(
  ctx: RunContext,
  src: SourceRun,
  reading: { step: Step; how: ReadHow }[],
): Promise<{ value: SourceValue; targetDeadline: Deadline; current?: unknown; targetLength?: number }[]> {
  const targetAsks: Command[] = [];
  const asked: { ttlAt?: number; currentAt?: number; reads: number; lengthAt?: number }[] = [];
  const caps = ctx.targetCaps;
  reading.forEach(({ step }, i) => {
    const entry: (typeof asked)[number] = { reads: 0 };
    asked[i] = entry;
    const merging = step.decision.action === 'merge';
    if (merging) {
      entry.ttlAt = targetAsks.length;
      targetAsks.push(['PTTL', step.probe.targetKey]);
    }
    if (step.type === 'other') return;
    const codec = CODECS[step.type];
    const wantsCurrent = merging
      ? (codec.needsCurrent?.(ctx.plan.merge, caps) ?? false)
      : step.decision.action === 'override' && sharesName(ctx, step);
    if (wantsCurrent) {
      const reads = codec.read(step.probe.targetKey, caps);
      entry.currentAt = targetAsks.length;
      entry.reads = reads.length;
      targetAsks.push(...reads);
    } else if (merging && step.type === 'list') {
      // A list merge also learns the list's length, so that a drop cannot make it append twice (writer.ts).
      entry.lengthAt = targetAsks.length;
      targetAsks.push(['LLEN', step.probe.targetKey]);
    }
  });
  const sentAt = now();
  const [values, targetReplies] = await Promise.all([
    readValues(
      { pipe: src.pipe, caps: src.caps },
      reading.map(({ step, how }) => ({
        key: step.probe.sourceKey,
        type: step.type,
        how,
        prefetched: step.probe.prefetched,
      })),
    ),
    ctx.targetPipe.send(targetAsks),
  ]);
  return values.map((value, i) => {
    const { ttlAt, currentAt, reads, lengthAt } = asked[i]!;
    const deadline = ttlAt === undefined ? null : deadlineFrom(Number(targetReplies[ttlAt]), sentAt);
    const type = reading[i]!.step.type as NativeType;
    const current =
      currentAt === undefined
        ? undefined
        : (CODECS[type].decode(targetReplies.slice(currentAt, currentAt + reads), caps) ?? undefined);
    const length = lengthAt === undefined ? undefined : targetReplies[lengthAt];
    return {
      value,
      targetDeadline: deadline === 'gone' ? null : deadline,
      current,
      targetLength:
        lengthAt !== undefined
          ? Number(length)
          : currentAt !== undefined && type === 'list'
            ? ((current as Buffer[] | undefined)?.length ?? 0)
            : undefined,
    };
  });
}

/** A module type with no DUMP/RESTORE path: counted as failed under `other`, never dropped silently (SPEC §1.3). */
function unsupported(ctx: RunContext, src: SourceRun, step: Step, record: RecordStep): void {
  record(step, { ...step.decision, action: 'fail' });
  ctx.tally.fallback('module type not copyable without DUMP/RESTORE', 1, fallbackAt(src, step));
  ctx.keyFailed(src, step.probe.targetKey, step.type, 'a module type needs DUMP/RESTORE', false);
  ctx.log(
    `cannot copy ${describeKey(step.probe.targetKey)} from ${src.plan.name}: a module type needs DUMP/RESTORE`,
  );
}

/** Names a key that fell back to native writes, for the report's sample (SPEC §5.3). */
function fallbackAt(src: SourceRun, step: Step): { key: Buffer; sourceIndex: number } {
  return { key: step.probe.targetKey, sourceIndex: src.index };
}

function mismatchError(src: SourceRun, step: Step): RunError {
  return new RunError(
    `type mismatch at ${describeKey(step.probe.targetKey)}: source ${src.plan.name} holds a ${step.type}, the target a ` +
      `${step.targetType}; typeMismatch is fail (use --type-mismatch override or skip to go on)`,
  );
}

/** A key for a message: quoted when printable, base64 otherwise. */
export function describeKey(key: Buffer): string {
  const text = key.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(key) && !/[\x00-\x1f\x7f]/.test(text);
  return printable ? JSON.stringify(text) : `base64:${key.toString('base64')}`;
}
