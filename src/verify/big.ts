import type { DataType } from '../types/strategy.js';
import { type Held, type Mismatch, type Recipe, showHeld } from '../types/verify.js';
import {
  foldOutcomes,
  type Merger,
  type Observed,
  type Outcome,
  type Rules,
  shapeMatches,
  shownOutcome,
} from './expect.js';
import { FileValue } from './file-value.js';
import { showTtl } from './show.js';
import { compareHeld, HeldValue, JournalValue, RemoteValue } from './windowed.js';

/**
 * The check of one key that is big on some side (verify.ts reads it as a RemoteValue instead of
 * whole): the fold of SPEC §1.2 is run as for any key, but a merge step records what was merged into
 * what (a Recipe) instead of computing the value, and each outcome of the target's type and TTL is
 * then compared with the target in windows (windowed.ts) until one matches. The small sides (and a
 * journaled prior, which the journal reader holds anyway) take part from memory.
 */

/** Read in windows: a big key on a server or in an RDB file, or a big prior in the journal. */
export function isBig(observed: Pick<Observed, 'value'> | null | undefined): boolean {
  const value = observed?.value;
  return value instanceof RemoteValue || value instanceof JournalValue || value instanceof FileValue;
}

const isHeld = (v: unknown): v is Held => v instanceof HeldValue || isBig({ value: v });

function asHeld(o: Observed): Observed {
  if (o.type === 'other' || isHeld(o.value)) return o;
  return { ...o, value: new HeldValue(o.type, o.value) };
}

const recordMerge: Merger = (_type, current, incoming) => {
  const { base, merged } = asRecipe(current);
  return { base, merged: [...merged, incoming as Held] };
};

/**
 * The fold's outcomes over values read in windows: an exact outcome's value is a Recipe (its base and
 * the values merged into it, in order), never the value itself.
 */
export function foldRecipes(starts: Outcome[], holders: readonly Observed[], rules: Rules): Outcome[] {
  const startsHeld = starts.map((s) =>
    s.kind === 'exact' && s.type !== 'other' && !isHeld(s.value)
      ? { ...s, value: new HeldValue(s.type, s.value) }
      : s,
  );
  return foldOutcomes(startsHeld, holders.map(asHeld), rules, recordMerge);
}

/** An exact outcome's value as foldRecipes leaves it. */
export function asRecipe(value: unknown): Recipe {
  return isHeld(value) ? { base: value, merged: [] } : (value as Recipe);
}

/** The difference to report (expected, found), or null when the target is one of the outcomes. */
export async function checkBig(
  starts: Outcome[],
  holders: readonly Observed[],
  found: Observed | null,
  rules: Rules,
): Promise<Mismatch | null> {
  const outcomes = distinct(foldRecipes(starts, holders, rules));
  const target = found && asHeld(found);
  // The outcome whose mismatch is named: one that merged into an unknown prior where there is one (the
  // weakest claim, so its failure is the real one), else the one a small key's difference shows.
  const matching = outcomes.filter((o) => shapeMatches(target, o, rules));
  const shown =
    matching.find((o) => o.kind === 'contains' && o.merged.length > 0) ?? shownOutcome(outcomes, target);
  const candidates = [shown, ...matching.filter((o) => o !== shown)].filter((o) =>
    shapeMatches(target, o, rules),
  );
  let named: Mismatch | undefined;
  for (const outcome of candidates) {
    if (target === null || outcome.kind === 'absent' || target.type === 'other') return null;
    const mismatch = await compareHeld(
      target.value as Held,
      outcome.kind === 'exact'
        ? { kind: 'exact', recipe: asRecipe(outcome.value) }
        : { kind: 'contains', merged: outcome.merged as Held[] },
      rules.merge,
    );
    if (!mismatch) return null;
    if (outcome === shown) named = mismatch;
  }
  const ttl = shown.kind === 'absent' ? '' : showTtl(shown.ttl);
  if (named && target)
    return { expected: `${named.expected}${ttl}`, found: `${named.found}${showTtl(target.ttl)}` };
  return {
    expected: `${describe(shown)}${ttl}`,
    found:
      target === null
        ? 'no key'
        : `${target.type === 'other' ? 'a module type' : showHeld(target.value as Held)}${showTtl(target.ttl)}`,
  };
}

/** An outcome in one line, without its contents. */
function describe(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'absent':
      return 'no key';
    case 'exact': {
      if (outcome.type === 'other') return 'a module type';
      const { base, merged } = asRecipe(outcome.value);
      return merged.length === 0
        ? showHeld(base)
        : `${showHeld(base)} merged with ${merged.map(showHeld).join(' then ')}`;
    }
    case 'contains':
      return outcome.merged.length === 0
        ? `any ${outcome.type}`
        : `a ${outcome.type} that contains ${(outcome.merged as Held[]).map(showHeld).join(' then ')}`;
  }
}

/** The outcomes with the repeats dropped (several priors often fold to the same one): each is a walk. */
function distinct(outcomes: Outcome[]): Outcome[] {
  const ids = new Map<unknown, number>();
  const idOf = (v: unknown): number => {
    if (!ids.has(v)) ids.set(v, ids.size);
    return ids.get(v)!;
  };
  const seen = new Set<string>();
  return outcomes.filter((o) => {
    let key: string;
    if (o.kind === 'absent') key = 'absent';
    else if (o.kind === 'exact') {
      const { base, merged } = o.type === 'other' ? { base: undefined, merged: [] } : asRecipe(o.value);
      key = `exact ${o.type} ${o.ttl} ${[base, ...merged].map(idOf).join(',')}`;
    } else key = `contains ${o.type as DataType} ${o.ttl} ${o.merged.map(idOf).join(',')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
