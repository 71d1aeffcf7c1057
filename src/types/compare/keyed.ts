import { SeenKeys } from '../../common/seen-keys.js';
import type { MergeOptions, NativeType } from '../../types/strategy.js';
import type { Held, HeldOutcome, Mismatch } from './held.js';

/**
 * The comparison in windows of a keyed type (hash, set, zset): each field or member of the target is
 * checked against the fold of that field over the sides, then every field of every side is looked up
 * on the target. What differs between the three (a window's layout, how one field merges, how it is
 * shown, what `contains` allows) is the type's `Keyed`.
 */
export interface Keyed {
  type: NativeType;
  /** What its elements are called ("fields", "members"). */
  elements: string;
  /** A window's fields and their values (a set: a mark). */
  split(window: Buffer[]): { fields: Buffer[]; values: Buffer[] };
  sameField(a: Buffer, b: Buffer): boolean;
  /** One merge step (SPEC §1.4) on one field's values. */
  mergeField(current: Buffer, incoming: Buffer, opts: MergeOptions): Buffer;
  /** A field and its value (null: the target has no such field) in a few words. */
  showField(field: Buffer, value: Buffer | null): string;
  /**
   * Under `contains`: whether the target's `have` is allowed, given the values merged into the field
   * in order (`given`, at least one); `want` is the one to show, `rule` prefixes it ("max of ").
   */
  allows(have: Buffer, given: Buffer[], opts: MergeOptions): { ok: boolean; want: Buffer; rule: string };
}

export function compareKeyed(
  k: Keyed,
  found: Held,
  outcome: HeldOutcome,
  opts: MergeOptions,
): Promise<Mismatch | null> {
  if (outcome.kind === 'contains') return containsKeyed(k, found, outcome.merged, opts);
  const sides = [outcome.recipe.base, ...outcome.recipe.merged];
  return sides[0]!.walkOnly
    ? exactKeyedOverBase(k, found, sides[0]!, sides.slice(1), opts)
    : exactKeyed(k, found, sides, opts);
}

/** The fold of one field over `sides` (the first is the base): null where no side has it. */
function foldField(k: Keyed, values: (Buffer | null)[], opts: MergeOptions): Buffer | null {
  let v: Buffer | null = null;
  for (const x of values) if (x !== null) v = v === null ? x : k.mergeField(v, x, opts);
  return v;
}

/**
 * Exact: every field of the target is the fold of that field over the sides, and every field of every
 * side is on the target. Memory: a window of the target and the sides' answers for it.
 */
async function exactKeyed(
  k: Keyed,
  found: Held,
  sides: Held[],
  opts: MergeOptions,
): Promise<Mismatch | null> {
  const expectedOf = async (fields: Buffer[]): Promise<(Buffer | null)[]> => {
    const per = await Promise.all(sides.map((s) => s.lookup(fields)));
    return fields.map((_, i) =>
      foldField(
        k,
        per.map((p) => p[i]!),
        opts,
      ),
    );
  };
  for await (const window of found.windows()) {
    const { fields, values } = k.split(window as Buffer[]);
    const expected = await expectedOf(fields);
    for (let i = 0; i < fields.length; i++) {
      const want = expected[i]!;
      if (want === null || !k.sameField(want, values[i]!)) {
        return { expected: k.showField(fields[i]!, want), found: k.showField(fields[i]!, values[i]!) };
      }
    }
  }
  for (const side of sides) {
    for await (const window of side.windows()) {
      const { fields } = k.split(window as Buffer[]);
      const held = await found.lookup(fields);
      const missing = held.indexOf(null);
      if (missing >= 0) {
        const [want] = await expectedOf([fields[missing]!]);
        return {
          expected: k.showField(fields[missing]!, want ?? null),
          found: k.showField(fields[missing]!, null),
        };
      }
    }
  }
  return null;
}

/**
 * Exact, over a base that can only be walked (a journaled big prior): every field of the base is on
 * the target with the fold of it over the base and the merged sides; every field of a merged side
 * that the base lacks (known by fingerprint, ~11 bytes a field of the base) is on the target with the
 * fold over the merged sides; and the target holds no other field (its size is the count of those).
 * Memory: a window, the base's fingerprints.
 */
async function exactKeyedOverBase(
  k: Keyed,
  found: Held,
  base: Held,
  merged: Held[],
  opts: MergeOptions,
): Promise<Mismatch | null> {
  const inBase = new SeenKeys();
  let fields = 0;
  const differs = (field: Buffer, want: Buffer | null, have: Buffer | null): Mismatch | null =>
    want !== null && have !== null && k.sameField(want, have)
      ? null
      : { expected: k.showField(field, want), found: k.showField(field, have) };
  for await (const window of base.windows()) {
    const { fields: names, values } = k.split(window as Buffer[]);
    for (const name of names) inBase.add(name);
    fields += names.length;
    const [have, ...per] = await Promise.all([found, ...merged].map((side) => side.lookup(names)));
    for (let i = 0; i < names.length; i++) {
      const want = foldField(k, [values[i]!, ...per.map((p) => p[i]!)], opts);
      const mismatch = differs(names[i]!, want, have![i]!);
      if (mismatch) return mismatch;
    }
  }
  for (const [j, side] of merged.entries()) {
    for await (const window of side.windows()) {
      // Each field once: where the base lacks it and no earlier merged side has it.
      const names = k.split(window as Buffer[]).fields.filter((f) => !inBase.has(f));
      if (names.length === 0) continue;
      const [have, ...per] = await Promise.all([found, ...merged].map((m) => m.lookup(names)));
      for (let i = 0; i < names.length; i++) {
        if (per.slice(0, j).some((p) => p[i] !== null)) continue;
        fields++;
        const mismatch = differs(
          names[i]!,
          foldField(
            k,
            per.map((p) => p[i]!),
            opts,
          ),
          have![i]!,
        );
        if (mismatch) return mismatch;
      }
    }
  }
  if (found.size !== fields) return { expected: `${k.type} of ${fields} ${k.elements}`, found: 'more' };
  return null;
}

/**
 * Contains: every field merged is on the target, with a value the strategy allows (Keyed.allows).
 * Memory: a window of the target and the answers for it.
 */
async function containsKeyed(
  k: Keyed,
  found: Held,
  merged: Held[],
  opts: MergeOptions,
): Promise<Mismatch | null> {
  if (merged.length === 0) return null;
  for await (const window of found.windows()) {
    const { fields, values } = k.split(window as Buffer[]);
    const per = await Promise.all(merged.map((m) => m.lookup(fields)));
    for (let i = 0; i < fields.length; i++) {
      const given = per.map((p) => p[i]!).filter((v): v is Buffer => v !== null);
      if (given.length === 0) continue;
      const have = values[i]!;
      const { ok, want, rule } = k.allows(have, given, opts);
      if (!ok) {
        return {
          expected: `a ${k.type} that contains ${rule}${k.showField(fields[i]!, want)}`,
          found: k.showField(fields[i]!, have),
        };
      }
    }
  }
  for (const side of merged) {
    for await (const window of side.windows()) {
      const { fields, values } = k.split(window as Buffer[]);
      const held = await found.lookup(fields);
      const missing = held.indexOf(null);
      if (missing >= 0) {
        return {
          expected: `a ${k.type} that contains ${k.showField(fields[missing]!, values[missing]!)}`,
          found: k.showField(fields[missing]!, null),
        };
      }
    }
  }
  return null;
}

/** The window's fields (with their values) that `seen` has not had yet, recording them. */
export function firstSeenPairs(window: Buffer[], seen: SeenKeys, fieldAt: 0 | 1): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < window.length; i += 2) {
    if (seen.add(window[i + fieldAt]!)) out.push(window[i]!, window[i + 1]!);
  }
  return out;
}

/** A flat window of pairs as fields and values (`fieldAt`: which of a pair is the field). */
export function splitPairs(flat: Buffer[], fieldAt: 0 | 1): { fields: Buffer[]; values: Buffer[] } {
  const fields: Buffer[] = [];
  const values: Buffer[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    fields.push(flat[i + fieldAt]!);
    values.push(flat[i + 1 - fieldAt]!);
  }
  return { fields, values };
}
