import { now } from '../servers/clock.js';
import type { Command } from '../servers/resp.js';
import { CODECS, TYPES } from '../types/index.js';
import type { NativeType } from '../types/strategy.js';
import type { StepKey } from '../write/door.js';
import type { ReadHow, ReadRequest, SourceValue } from '../write/read.js';
import { type Deadline, deadlineFrom } from '../write/ttl.js';
import type { RunContext, SourceRun } from './context.js';
import type { Step } from './decide.js';
import { sharesName } from './units.js';

/**
 * What the writes of a group need, by step (index): the source's values and what the target holds
 * now. Parallel lists, not an object per step; `target` is absent where the target was asked nothing
 * (a copy: no deadline, no current value, no length).
 */
export interface ReadForWrite {
  values: SourceValue[];
  target?: {
    deadlines: Deadline[];
    currents: unknown[];
    lengths: (number | undefined)[];
  };
}

/**
 * A step to read and how: its own read request, and the step as the journal's door names it (one
 * object per step for both, not a copy of it for each).
 */
export interface StepRead extends ReadRequest, StepKey {
  step: Step;
}

/** The read of `step` in the way `how`. */
export function stepRead(step: Step, how: ReadHow): StepRead {
  return {
    step,
    how,
    name: step.name,
    type: step.type,
    source: step.source,
    sourceKey: step.probe.sourceKey,
    prefetched: step.probe.prefetched,
    // A create on the dump path is a RESTORE without REPLACE: it never overwrites a key.
    absent: step.decision.action === 'create' && how === 'dump',
  };
}

/** Where a step's target reads are among the target's replies (none: NOTHING_ASKED). */
interface TargetAsked {
  ttlAt?: number;
  currentAt?: number;
  reads: number;
  lengthAt?: number;
}

const NOTHING_ASKED: TargetAsked = Object.freeze({ reads: 0 });

/**
 * Reads the source values and, for merges, the target's TTL (for merge.ttl) and, where the step
 * needs it (a list union, a zset rule the target's ZADD cannot apply, a shared-name override), the
 * target's present value, all in one round trip to each side.
 */
export async function readForWrite(
  ctx: RunContext,
  src: SourceRun,
  reading: StepRead[],
): Promise<ReadForWrite> {
  const targetAsks: Command[] = [];
  const asked: TargetAsked[] = [];
  const caps = ctx.targetCaps;
  reading.forEach(({ step }, i) => {
    // A copy asks the target nothing: one shared entry for those steps, an own one for the others.
    const merging = step.decision.action === 'merge';
    const entry: TargetAsked = merging ? { reads: 0, ttlAt: targetAsks.length } : NOTHING_ASKED;
    asked[i] = entry;
    if (merging) targetAsks.push(['PTTL', step.name]);
    if (step.type === 'other') return;
    const codec = CODECS[step.type];
    const wantsCurrent = merging
      ? (codec.needsCurrent?.(ctx.plan.merge, caps) ?? false)
      : step.decision.action === 'override' && sharesName(ctx, step);
    const lengthBefore = TYPES[step.type].lostMerge?.lengthBefore;
    if (wantsCurrent) {
      const reads = codec.read(step.name, caps);
      asked[i] = { ...entry, currentAt: targetAsks.length, reads: reads.length };
      targetAsks.push(...reads);
    } else if (merging && lengthBefore) {
      // A list merge also learns the list's length, so that a drop cannot make it append twice (writer.ts).
      entry.lengthAt = targetAsks.length;
      targetAsks.push(lengthBefore.command(step.name));
    }
  });
  const sentAt = now();
  const [values, targetReplies] = await Promise.all([
    src.reader.values(reading),
    ctx.targetPipe.send(targetAsks),
  ]);
  if (targetAsks.length === 0) return { values };
  const deadlines: Deadline[] = new Array(values.length);
  const currents: unknown[] = new Array(values.length);
  const lengths: (number | undefined)[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const { ttlAt, currentAt, reads, lengthAt } = asked[i]!;
    const deadline = ttlAt === undefined ? null : deadlineFrom(Number(targetReplies[ttlAt]), sentAt);
    const type = reading[i]!.step.type as NativeType;
    const current =
      currentAt === undefined
        ? undefined
        : (CODECS[type].decode(targetReplies.slice(currentAt, currentAt + reads), caps) ?? undefined);
    const lengthBefore = TYPES[type].lostMerge?.lengthBefore;
    deadlines[i] = deadline === 'gone' ? null : deadline;
    currents[i] = current;
    lengths[i] =
      lengthAt !== undefined
        ? Number(targetReplies[lengthAt])
        : currentAt !== undefined && lengthBefore
          ? lengthBefore.of(current)
          : undefined;
  }
  return { values, target: { deadlines, currents, lengths } };
}
