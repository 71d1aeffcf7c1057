import pLimit from 'p-limit';
import type { ProbeUnit } from '../probe/probe.js';
import type { Command } from '../servers/resp.js';
import { CODECS, TYPES } from '../types/index.js';
import type { NativeType } from '../types/strategy.js';
import { surelySmallBelow } from '../write/big-threshold.js';
import { copyBig } from './big.js';
import type { RunContext, SourceRun } from './context.js';
import type { Step } from './decide.js';
import { dumpPath } from './path.js';
import { writeGroup } from './write-group.js';

/** Values read and written together in one group: many small keys per round trip, a bounded amount of bytes. */
const GROUP_BYTES = 8 * 1024 * 1024;

/**
 * Writes a batch's decided steps: the small ones in groups of at most GROUP_BYTES, each within the
 * byte budget (SPEC §2.2), then the big ones (and values too large for one bulk string) window by
 * window. Returns the units to decide again. `halted` is checked before each group.
 */
export async function writeSteps(
  ctx: RunContext,
  src: SourceRun,
  steps: Step[],
  halted: () => boolean,
): Promise<ProbeUnit[]> {
  const again: ProbeUnit[] = [];
  const sized = await sizeUp(ctx, src, steps);
  const big: Step[] = [];
  // Values whose payload is over the target's proto-max-bulk-len, found while writing the groups.
  const tooLarge: Step[] = [];
  // Values sent whole only because one payload carries them (sizeUp): read natively, they go in windows.
  const wholeAsPayload = new Set(steps.filter((_, i) => sized.wholeAsPayload[i] === 1));
  let group: Step[] = [];
  let groupBytes = 0;
  const flush = async (): Promise<void> => {
    if (group.length === 0 || halted()) return;
    const grouped = group;
    const taken = await ctx.budget.acquire(groupBytes);
    group = [];
    groupBytes = 0;
    try {
      await writeGroup(ctx, src, grouped, again, { tooLarge, wholeAsPayload }, halted);
    } finally {
      ctx.budget.release(taken);
    }
  };
  // Indexed, not entries(): an iterator's [i, step] pair per key was a tenth of a copy's garbage.
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const bytes = sized.bytes[i]!;
    if (sized.isBig[i] === 1) {
      big.push(step);
      continue;
    }
    if (groupBytes + bytes > GROUP_BYTES) await flush();
    group.push(step);
    groupBytes += bytes;
  }
  await flush();
  await copyBigSteps(big, (step) => copyBig(ctx, src, step, again), halted);
  // Over the target's proto-max-bulk-len as one payload: nothing but windows can carry them.
  for (const step of tooLarge) {
    if (halted()) break;
    await copyBig(ctx, src, step, again, { stream: false });
  }
  return again;
}

/**
 * Big keys of one batch copied at once: streamed whole, one's RESTORE on the target overlaps the next
 * one's DUMP on the source, where one after the other each server waits for the other (as MIGRATE's
 * loop does). Each takes its share of the byte budget, and the servers hold one payload per copy.
 */
const BIG_AT_ONCE = 2;

/**
 * Copies a batch's big keys, BIG_AT_ONCE at a time where their names differ (the types one Pika 3.x
 * name holds keep their order). A failure that stops the run is thrown once the copies under way have
 * settled (SPEC §4: work in flight finishes).
 */
async function copyBigSteps(
  steps: Step[],
  copy: (step: Step) => Promise<void>,
  halted: () => boolean,
): Promise<void> {
  const names = new Set(steps.map((step) => step.name.toString('latin1')));
  const limit = pLimit(names.size === steps.length ? BIG_AT_ONCE : 1);
  const settled = await Promise.allSettled(
    steps.map((step) => limit(async () => (halted() ? undefined : copy(step)))),
  );
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Per step of a batch (by index): big (1), its bytes in memory, sent whole only as one payload (1). */
interface Sizes {
  isBig: Uint8Array;
  bytes: Float64Array;
  wholeAsPayload: Uint8Array;
}

/**
 * Which keys are big (SPEC §2.3: over bigKeyElements elements or bigKeyBytes bytes) and roughly how
 * many bytes each will take in memory. MEMORY USAGE from the probe clears most keys at once; the
 * few it cannot clear (and every key where the server does not answer it) get an element count.
 *
 * A copy on the dump path (create or override: DUMP → RESTORE) travels as one payload whatever its
 * element count, as MIGRATE carries it, while its MEMORY USAGE is at most bigKeyBytes (the budget a
 * value may take in memory): its elements cost the client nothing (a hash, a set and a list of 40,000
 * to 60,000 elements each: 1.53 s in windows, 0.93 s as payloads; docs/performance.md). Only bigger
 * values, and values merged or written natively (one command per value), are big by their element
 * count. Such a copy of over surelySmallBelow bytes is `wholeAsPayload` (its elements are not
 * counted): if the dump path is refused on the way, it goes in windows, never as one native command.
 */
async function sizeUp(ctx: RunContext, src: SourceRun, steps: Step[]): Promise<Sizes> {
  const { bigKeyBytes, bigKeyElements } = ctx.plan.write;
  const out: Sizes = {
    isBig: new Uint8Array(steps.length),
    bytes: new Float64Array(steps.length),
    wholeAsPayload: new Uint8Array(steps.length),
  };
  const clearBelow = surelySmallBelow(ctx.plan.write);
  const dumps = dumpPath(ctx, src);
  const asPayload = (step: Step): boolean =>
    dumps && step.decision.action !== 'merge' && step.probe.memory !== undefined;
  // An RDB file knows each value's size exactly (its bytes in the file), and most values' element
  // counts (their headers): nothing is asked.
  if (src.reader.exactSizes) {
    steps.forEach((step, i) => {
      const bytes = step.probe.memory ?? 0;
      const manyElements = (src.reader.elements?.(step.probe.sourceKey) ?? 0) > bigKeyElements;
      const whole = asPayload(step) && bytes <= bigKeyBytes;
      out.bytes[i] = bytes;
      out.isBig[i] = bytes > bigKeyBytes || (manyElements && !whole) ? 1 : 0;
      out.wholeAsPayload[i] = whole && manyElements ? 1 : 0;
    });
    return out;
  }
  steps.forEach((step, i) => {
    out.bytes[i] = step.probe.memory ?? 1024;
  });
  const counted: number[] = [];
  const asks: Command[] = [];
  steps.forEach((step, i) => {
    const memory = step.probe.memory;
    if (step.type === 'other') return; // only DUMP/RESTORE can carry it, whatever its size
    if (memory !== undefined && memory > bigKeyBytes) out.isBig[i] = 1;
    else if (memory !== undefined && memory > clearBelow && asPayload(step)) out.wholeAsPayload[i] = 1;
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
    out.isBig[i] = TYPES[step.type as NativeType].isBig(count, ctx.plan.write) ? 1 : 0;
    if (step.probe.memory === undefined) out.bytes[i] = step.type === 'string' ? count : count * 64;
  });
  return out;
}
