import type { Redis } from 'ioredis';
import type { MergePlan, SourcePlan } from './config/plan.js';
import { decide, foldTypes } from './decide/decide.js';
import type { DataType, Decision } from './decide/types.js';
import { RunError } from './errors.js';
import { type HolderView, type KeyProbe, probeBatch } from './probe/probe.js';
import type { Tally } from './report/tally.js';
import { type ReadHow, type ReadRequest, readValues, type SourceValue } from './write/read.js';
import { now } from './write/ttl.js';
import { type WriteItem, writeBatch } from './write/writer.js';

/** State shared by every batch of a run. */
export interface RunContext {
  plan: MergePlan;
  target: Redis;
  tally: Tally;
  /** The target takes RESTORE payloads; turned off for the rest of the run by a fallback (SPEC §2.1). */
  targetRestores: boolean;
  protoMaxBulkLen: number;
  /** Set when the run must stop (SPEC §4 exit 1); batches in flight settle, no new batch starts. */
  stopped?: RunError;
  log(line: string): void;
}

/** One source being merged. */
export interface SourceRun {
  index: number;
  plan: SourcePlan;
  redis: Redis;
  /** The source gives DUMP payloads; turned off by a refusal. */
  dumps: boolean;
  /** The sources before this one, to predict the fold and count overlaps. */
  earlier: HolderView[];
}

const MAX_ATTEMPTS = 3;
const EXPIRED: Decision = { action: 'expired', conflict: false, typeMismatch: false };

type Step = {
  probe: KeyProbe;
  type: DataType;
  decision: Decision;
  targetType: DataType | null;
  overlap: boolean;
};

/**
 * Carries one batch through probe → decide → read → write → account. Every key of the batch ends
 * in exactly one counter, except keys that must be decided again (the source or the target changed
 * between two round trips): those go round once more, up to MAX_ATTEMPTS.
 */
export async function processBatch(
  ctx: RunContext,
  src: SourceRun,
  keys: Buffer[],
  attempt = 1,
): Promise<void> {
  const { plan, tally } = ctx;
  const dumpPath = (): boolean => plan.write.mode !== 'native' && ctx.targetRestores && src.dumps;
  const withDump = !plan.dryRun && dumpPath();
  const probes = await probeBatch(src.redis, src.plan.prefix, ctx.target, src.earlier, keys, withDump);

  const record = (step: Step, decision: Decision): void =>
    tally.record({
      sourceIndex: src.index,
      key: step.probe.targetKey,
      type: step.type,
      targetType: step.targetType,
      decision,
      sourceOverlap: step.overlap,
    });

  const again: Buffer[] = [];
  const ready: { step: Step; item: WriteItem }[] = [];
  const toRead: { step: Step; how: ReadHow }[] = [];
  const at = now();

  for (const probe of probes) {
    const overlap = probe.earlier.length === 1;
    if (
      probe.type === null ||
      probe.deadline === 'gone' ||
      (probe.deadline !== null && probe.deadline <= at)
    ) {
      tally.record({
        sourceIndex: src.index,
        key: probe.targetKey,
        type: probe.type ?? 'none',
        targetType: probe.targetType,
        decision: EXPIRED,
        sourceOverlap: overlap,
      });
      continue;
    }
    // A dry run writes nothing, so the target does not show what earlier sources would have done:
    // fold their types over the target's to predict the step (SPEC §1.2, §5.3).
    const targetType = plan.dryRun
      ? foldTypes(probe.targetType, probe.earlier, plan.strategies)
      : probe.targetType;
    const decision = decide(probe.type, targetType, plan.strategies);
    const step: Step = { probe, type: probe.type, decision, targetType, overlap };
    if (probe.dumpError && src.dumps) {
      src.dumps = false;
      ctx.log(`source ${src.plan.name} refuses DUMP (${probe.dumpError}); reading natively`);
    }
    const { action } = decision;
    if (plan.dryRun || action === 'skip' || action === 'fail') {
      record(step, decision);
      if (action === 'fail' && !plan.dryRun && !ctx.stopped) ctx.stopped = mismatchError(src, step);
      continue;
    }
    if (action !== 'merge' && probe.dump && !probe.dumpError && dumpPath()) {
      ready.push({
        step,
        item: writeItem(step, { state: 'ok', deadline: probe.deadline, dump: probe.dump }),
      });
    } else {
      toRead.push({ step, how: action !== 'merge' && dumpPath() ? 'dump' : 'native' });
    }
  }

  // Read what must be read, write, and read again natively what the dump path could not carry.
  while (toRead.length > 0 || ready.length > 0) {
    const reading = toRead.splice(0);
    const values = await readForWrite(ctx, src, reading);
    reading.forEach(({ step }, i) => {
      const { value, current } = values[i]!;
      if (value.state === 'gone') record(step, EXPIRED);
      else if (value.state === 'changed') again.push(step.probe.sourceKey);
      else if (value.state === 'refused') {
        if (src.dumps) ctx.log(`source ${src.plan.name} refuses DUMP (${value.message}); reading natively`);
        src.dumps = false;
        if (step.type === 'other') unsupported(ctx, src, step, record);
        else toRead.push({ step, how: 'native' });
      } else {
        ready.push({ step, item: { ...writeItem(step, value), current } });
      }
    });

    const writing = ready.splice(0);
    const results = await writeBatch(
      ctx.target,
      writing.map((w) => w.item),
      { merge: plan.merge, protoMaxBulkLen: ctx.protoMaxBulkLen },
    );
    results.forEach((result, i) => {
      const { step } = writing[i]!;
      switch (result.status) {
        case 'written':
          record(step, step.decision);
          break;
        case 'expired':
          record(step, EXPIRED);
          break;
        case 'retry':
          again.push(step.probe.sourceKey);
          break;
        case 'native':
          tally.fallback(result.reason);
          if (result.wholeRun && ctx.targetRestores) {
            ctx.targetRestores = false;
            ctx.log(`${result.reason}: writing natively from now on`);
          }
          if (step.type === 'other') unsupported(ctx, src, step, record);
          else toRead.push({ step, how: 'native' });
          break;
        case 'failed':
          record(step, { ...step.decision, action: 'fail' });
          if (!ctx.stopped)
            ctx.stopped = new RunError(
              `writing ${describeKey(step.probe.targetKey)} failed: ${result.message}`,
            );
      }
    });
  }

  if (again.length > 0) {
    if (attempt < MAX_ATTEMPTS) return processBatch(ctx, src, again, attempt + 1);
    if (!ctx.stopped) {
      ctx.stopped = new RunError(
        `${again.length} key(s) kept changing while being merged (e.g. ${describeKey(again[0]!)})`,
      );
    }
  }
}

function writeItem(step: Step, value: Extract<SourceValue, { state: 'ok' }>): WriteItem {
  return {
    key: step.probe.targetKey,
    type: step.type,
    action: step.decision.action as WriteItem['action'],
    value,
    targetDeadline: step.probe.targetDeadline,
  };
}

/** Reads the source values (and, for merges that need it, the target's present value) in parallel. */
async function readForWrite(
  ctx: RunContext,
  src: SourceRun,
  reading: { step: Step; how: ReadHow }[],
): Promise<{ value: SourceValue; current?: unknown }[]> {
  const currentAsks: ReadRequest[] = [];
  const currentOf: number[] = [];
  reading.forEach(({ step }, i) => {
    if (step.decision.action === 'merge' && step.type === 'list' && ctx.plan.merge.list === 'union') {
      currentOf[i] = currentAsks.length;
      currentAsks.push({ key: step.probe.targetKey, type: 'list', how: 'native' });
    }
  });
  const [values, currents] = await Promise.all([
    readValues(
      src.redis,
      reading.map(({ step, how }) => ({ key: step.probe.sourceKey, type: step.type, how })),
    ),
    readValues(ctx.target, currentAsks),
  ]);
  return values.map((value, i) => {
    const c = currentOf[i] === undefined ? undefined : currents[currentOf[i]!];
    return { value, current: c?.state === 'ok' ? c.native : undefined };
  });
}

/** A module type with no DUMP/RESTORE path: counted as failed under `other`, never dropped silently (SPEC §1.3). */
function unsupported(
  ctx: RunContext,
  src: SourceRun,
  step: Step,
  record: (s: Step, d: Decision) => void,
): void {
  record(step, { ...step.decision, action: 'fail' });
  ctx.tally.fallback('module type not copyable without DUMP/RESTORE');
  ctx.log(
    `cannot copy ${describeKey(step.probe.targetKey)} from ${src.plan.name}: a module type needs DUMP/RESTORE`,
  );
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
