import type { MergePlan } from '../config/plan.js';
import type { WindowLoader } from '../journal/reader.js';
import type { JournaledKey } from '../journal/types.js';
import { TYPE_ORDER } from '../types/type-reply.js';
import { verifyOf } from '../types/verify.js';
import { checkBig, isBig } from './big.js';
import {
  foldOutcomes,
  knownPrior,
  type Observed,
  type Outcome,
  type Rules,
  unknownPriors,
} from './expect.js';
import { type FieldTtls, fieldTtlMismatch } from './field-ttls.js';
import { FileSide } from './file-side.js';
import { admitted, type BigKeyLimits, priorObserved, typesOf, valuesOf } from './read.js';
import type { Side, SourceSide } from './sides.js';
import type { Mismatch } from './windowed.js';

export interface Checker {
  plan: MergePlan;
  target: Side;
  sources: SourceSide[];
  rules: Rules;
  /** Reads the journal's windows of a big key's prior (VerifyOptions.windows). */
  windows?: WindowLoader;
  /** `origin`: the field TTLs of a value as read (a source's or the prior's), by the value itself. */
  record(
    key: Buffer,
    outcomes: Outcome[],
    found: Observed | null,
    origin: (value: unknown) => FieldTtls | undefined,
  ): void;
  /** A key compared in windows: what differs, or null. */
  recordBig(key: Buffer, mismatch: Mismatch | null): void;
  /**
   * A big key's sides, for a caller that acts on them itself (a follow folds the key again): given,
   * it replaces the comparison that ends in recordBig.
   */
  big?(key: Buffer, starts: Outcome[], holders: Observed[], found: Observed | null): Promise<void>;
  priorUnused(reason: string): void;
  exact(): void;
  batchDone(): void;
}

/**
 * Checks target keys. `firstHolder`: keys held by an earlier source are left to that source's scan,
 * so those sources are asked first (their types) and only the rest go on. Then one round trip to
 * every server for the types (only to the sources whose prefix and match admit the key), one for
 * PTTL and sizes, one for the values that are not big, then the fold.
 *
 * The unit is (key, type) (SPEC §7): where a name holds several types (Pika 3.x), a source gives one
 * value per type, folded in TYPE_ORDER after the previous source's; a target of that kind keeps each
 * type beside the others, so each type of the name is its own fold and its own check (its prior is
 * absent or of that type).
 */
export async function checkKeys(
  c: Checker,
  all: Buffer[],
  opts: {
    firstHolder?: number;
    priors?: Map<string, JournaledKey>;
    /**
     * Every key's prior, known (a follow: its journaled prior, or the target's value where nothing
     * was written to the key yet), or why it cannot be used; replaces `priors`.
     */
    priorOf?: (key: Buffer, found: Observed | null) => Promise<Observed | null | string>;
  },
): Promise<void> {
  let keys = all;
  if (opts.firstHolder) {
    const earlier = c.sources.slice(0, opts.firstHolder);
    const types = await Promise.all(earlier.map((side, j) => typesAt(side, admitted(c.plan, j, keys))));
    keys = keys.filter((_, i) => types.every((perSource) => !perSource[i]?.length));
  }
  if (keys.length === 0) return;
  const sourceKeys = c.plan.sources.map((_, j) => admitted(c.plan, j, keys));
  const [targetTypes, ...sourceTypes] = await Promise.all([
    typesOf(c.target, keys),
    ...c.sources.map((side, j) => typesAt(side, sourceKeys[j]!)),
  ]);
  const [found, ...read] = await Promise.all([
    valuesOf(c.target, keys, targetTypes!, c.plan.write),
    ...c.sources.map((side, j) => valuesAt(side, sourceKeys[j]!, sourceTypes[j]!, c.plan.write)),
  ]);
  const held = read.map((r) => r.values);
  // A source's value verify cannot read (a file's, file-side.ts): the key is named with why, not compared.
  const unread = new Map<number, string>();
  for (const r of read) for (const [i, why] of r.unread ?? []) if (!unread.has(i)) unread.set(i, why);
  const multiTarget = c.target.caps.multiTypeNames;
  // The journal's priors of these keys as values; a big one is walked in the journal when compared.
  const priors = new Map<Buffer, Observed | null | string>();
  for (const [i, key] of (multiTarget ? [] : keys).entries()) {
    const journaled = opts.priors?.get(key.toString('latin1'));
    if (opts.priorOf) priors.set(key, await opts.priorOf(key, found![i]?.[0] ?? null));
    else if (journaled) priors.set(key, await priorObserved(journaled.prior, c.windows));
  }
  const big: { key: Buffer; starts: Outcome[]; holders: Observed[]; found: Observed | null }[] = [];
  keys.forEach((key, i) => {
    const why = unread.get(i);
    if (why !== undefined) {
      c.recordBig(key, { expected: why, found: 'not compared' });
      return;
    }
    // Every source's values of the key in declared order (several types of one name in TYPE_ORDER).
    const holders = held.flatMap((values) => values[i] ?? []);
    const journaled = opts.priorOf !== undefined || opts.priors?.has(key.toString('latin1'));
    let starts = unknownPriors();
    if (journaled && multiTarget) c.priorUnused(MULTI_TYPE_PRIOR);
    else if (journaled) {
      const prior = priors.get(key)!;
      if (typeof prior === 'string') c.priorUnused(prior);
      else {
        starts = [knownPrior(prior)];
        c.exact();
      }
    }
    const steps: { starts: Outcome[]; holders: Observed[]; found: Observed | null }[] = [];
    if (!multiTarget) steps.push({ starts, holders, found: found![i]?.[0] ?? null });
    else {
      const onTarget = found![i] ?? [];
      const types = new Set([...onTarget, ...holders].map((o) => o.type));
      for (const type of TYPE_ORDER.filter((t) => types.has(t))) {
        steps.push({
          starts: starts.filter((s) => s.kind === 'absent' || s.type === type),
          holders: holders.filter((h) => h.type === type),
          found: onTarget.find((o) => o.type === type) ?? null,
        });
      }
    }
    // Field TTLs by value: an outcome that is one of these values kept whole is compared with its field TTLs.
    const origins = new Map<unknown, FieldTtls | undefined>();
    for (const o of [...holders, ...starts]) {
      if ('value' in o && (!('kind' in o) || o.kind === 'exact'))
        origins.set(o.value, (o as Observed).fieldTtls);
    }
    for (const step of steps) {
      const bigPrior = step.starts.some((s) => s.kind === 'exact' && isBig(s));
      if (bigPrior || isBig(step.found) || step.holders.some(isBig)) big.push({ key, ...step });
      else c.record(key, foldOutcomes(step.starts, step.holders, c.rules), step.found, (v) => origins.get(v));
    }
  });
  // One big key at a time within a batch: a few windows of it in memory.
  for (const b of big) {
    if (c.big) await c.big(b.key, b.starts, b.holders, b.found);
    else c.recordBig(b.key, await checkBig(b.starts, b.holders, b.found, c.rules));
  }
  c.batchDone();
}

/** A source's types of keys: a server's TYPE replies, or a file's records. */
function typesAt(side: SourceSide, keys: (Buffer | undefined)[]): ReturnType<typeof typesOf> {
  return side instanceof FileSide ? side.typesOf(keys) : typesOf(side, keys);
}

/** A source's values of keys, and (a file) the keys whose value it cannot give. */
async function valuesAt(
  side: SourceSide,
  keys: (Buffer | undefined)[],
  types: Awaited<ReturnType<typeof typesOf>>,
  limits: BigKeyLimits,
): Promise<{ values: Observed[][]; unread?: Map<number, string> }> {
  if (side instanceof FileSide) return side.valuesOf(keys, types, limits);
  return { values: await valuesOf(side, keys, types, limits) };
}

/** Why journaled priors are not used on a Pika 3.x target (README "Not yet": journal on Pika 3.x). */
const MULTI_TYPE_PRIOR =
  'the target keeps several types under one name (Pika 3.x): priors are not matched to types';

/**
 * The field TTL difference of a hash that matched `passing` by value and TTL, or null: it passes when
 * some outcome holds no value kept whole from a side that keeps field TTLs (a merge, an unknown prior)
 * or has the same field TTLs within the tolerance.
 */
export function fieldTtlDifference(
  passing: Outcome[],
  found: Observed | null,
  origin: (value: unknown) => FieldTtls | undefined,
  rules: Rules,
): { expected: string; found: string } | null {
  if (!found?.fieldTtls || !verifyOf(found.type).fieldTtls) return null;
  let first: { expected: string; found: string } | null = null;
  for (const outcome of passing) {
    const expected = outcome.kind === 'exact' ? origin(outcome.value) : undefined;
    if (!expected) return null;
    const mismatch = fieldTtlMismatch(expected, found.fieldTtls, rules.ttlToleranceMs);
    if (!mismatch) return null;
    first ??= mismatch;
  }
  return first;
}
