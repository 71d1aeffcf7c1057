/**
 * An in-memory model of the fold of SPEC §1, written from the SPEC alone (it shares no code with the
 * engine, not even decide()), so that the property test can compare the engine with an independent
 * definition of what should happen.
 *
 * Every byte string (key, field, member, element, value) is held as a latin1 string: one char per
 * byte, so any bytes round-trip, two strings are equal exactly when the bytes are, sorting compares
 * bytes, and a counterexample printed by fast-check stays readable.
 *
 * TTLs are abstract (`none` | `some`): the model only says whether a key should carry an expiry.
 */

import type { Counts } from '../../src/report/counters.js';
import { emptyCounts } from '../../src/report/counters.js';
import type { MergeOptions, StrategyTable } from '../../src/types/strategy.js';

export const MODEL_TYPES = ['string', 'hash', 'set', 'zset', 'list'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/** A value in canonical form: hash fields, set members and zset members unique; list in order. */
export type Value =
  | { type: 'string'; value: string }
  | { type: 'hash'; value: [field: string, value: string][] }
  | { type: 'set'; value: string[] }
  | { type: 'zset'; value: [member: string, score: number][] }
  | { type: 'list'; value: string[] };

export type Ttl = 'none' | 'some';
export type Entry = Value & { ttl: Ttl };

/** A Redis-like database: key (latin1) → entry. */
export type Store = Map<string, Entry>;

/** The per-type strategies and the mismatch policy of a run (the model's slice of a StrategyTable). */
export type ModelTable = Pick<StrategyTable, ModelType | 'typeMismatch'>;

/** What the report of a run over the model's data must say (SPEC §5.3). */
export interface Prediction {
  /** The target after the fold. For a run with `typeMismatch: fail` that hits a mismatch, see `failed`. */
  store: Store;
  totals: Counts;
  byType: Partial<Record<ModelType, Counts>>;
  conflicts: number;
  /** Steps whose outcome is `fail`: a real run stops (outcome `failed`), a dry run counts them and goes on. */
  failed: number;
  /** Keys scanned per source, in declared order. */
  scannedPerSource: number[];
}

type Outcome = 'created' | 'overridden' | 'merged' | 'skipped' | 'failed';

/**
 * Folds the sources, in declared order, over the target (SPEC §1.2), key by key, and predicts the
 * counters of the report. A `fail` step leaves the target's value as it was, as a dry run assumes
 * (a real run stops there, so its final contents are not predicted).
 */
export function foldModel(
  target: Store,
  sources: readonly Store[],
  table: ModelTable,
  merge: MergeOptions,
): Prediction {
  const store: Store = new Map([...target].map(([k, e]) => [k, cloneEntry(e)]));
  const totals = emptyCounts();
  const byType: Partial<Record<ModelType, Counts>> = {};
  let conflicts = 0;
  const holders = new Map<string, number>();

  sources.forEach((source) => {
    for (const [key, incoming] of source) {
      const current = store.get(key);
      let outcome: Outcome;
      let conflict = false;
      let mismatch = false;
      if (current === undefined) {
        outcome = 'created';
        store.set(key, cloneEntry(incoming));
      } else if (current.type !== incoming.type) {
        conflict = true;
        mismatch = true;
        const policy = table.typeMismatch;
        if (policy === 'override') {
          outcome = 'overridden';
          store.set(key, cloneEntry(incoming));
        } else if (policy === 'skip') {
          outcome = 'skipped';
        } else {
          outcome = 'failed';
        }
      } else {
        conflict = true;
        const strategy = table[incoming.type];
        if (strategy === 'override') {
          outcome = 'overridden';
          store.set(key, cloneEntry(incoming));
        } else if (strategy === 'skip') {
          outcome = 'skipped';
        } else {
          outcome = 'merged';
          store.set(key, mergeEntries(current, incoming, merge));
        }
      }

      // sourceOverlap counts a key once, when its second holder comes (SPEC §5.3).
      const held = (holders.get(key) ?? 0) + 1;
      holders.set(key, held);
      const t = byType[incoming.type] ?? emptyCounts();
      byType[incoming.type] = t;
      for (const c of [totals, t]) {
        c.scanned++;
        c[outcome]++;
        if (mismatch) c.typeMismatch++;
        if (held === 2) c.sourceOverlap++;
      }
      if (conflict) conflicts++;
    }
  });

  return {
    store,
    totals,
    byType,
    conflicts,
    failed: totals.failed,
    scannedPerSource: sources.map((s) => s.size),
  };
}

/** One `merge` step (SPEC §1.4, §1.5) of two values of the same type: `incoming` into `current`. */
export function mergeEntries(current: Entry, incoming: Entry, opts: MergeOptions): Entry {
  const ttl = mergeTtl(current.ttl, incoming.ttl, opts.ttl);
  switch (incoming.type) {
    case 'string':
      throw new Error('string values cannot be merged (SPEC §1.4)');
    case 'hash': {
      const fields = new Map((current as Extract<Entry, { type: 'hash' }>).value);
      for (const [field, value] of incoming.value) {
        if (!fields.has(field) || opts.hashField === 'source') fields.set(field, value);
      }
      return { type: 'hash', value: [...fields], ttl };
    }
    case 'set': {
      const members = new Set((current as Extract<Entry, { type: 'set' }>).value);
      for (const m of incoming.value) members.add(m);
      return { type: 'set', value: [...members], ttl };
    }
    case 'zset': {
      const scores = new Map((current as Extract<Entry, { type: 'zset' }>).value);
      for (const [member, score] of incoming.value) {
        const old = scores.get(member);
        scores.set(member, old === undefined ? score : zsetScore(old, score, opts.zsetScore));
      }
      return { type: 'zset', value: [...scores], ttl };
    }
    case 'list': {
      const held = (current as Extract<Entry, { type: 'list' }>).value;
      let value: string[];
      if (opts.list === 'append') value = [...held, ...incoming.value];
      else if (opts.list === 'prepend') value = [...incoming.value, ...held];
      else {
        // [a] ∪ [b, a, b] = [a, b]: an element is added when the list does not hold it at that moment.
        value = [...held];
        for (const e of incoming.value) if (!value.includes(e)) value.push(e);
      }
      return { type: 'list', value, ttl };
    }
  }
}

function zsetScore(target: number, source: number, rule: MergeOptions['zsetScore']): number {
  switch (rule) {
    case 'source':
      return source;
    case 'target':
      return target;
    case 'max':
      return Math.max(target, source);
    case 'min':
      return Math.min(target, source);
    case 'sum':
      return target + source;
  }
}

/** merge.ttl on abstract lifetimes: no expiry is the longest lifetime (SPEC §1.5). */
function mergeTtl(target: Ttl, source: Ttl, rule: MergeOptions['ttl']): Ttl {
  switch (rule) {
    case 'max':
      return target === 'none' || source === 'none' ? 'none' : 'some';
    case 'min':
      return target === 'some' || source === 'some' ? 'some' : 'none';
    case 'source':
      return source;
    case 'target':
      return target;
  }
}

function cloneEntry(e: Entry): Entry {
  return structuredClone(e);
}

/** A store as a plain, sorted, comparable structure (for toEqual and for readable diffs). */
export type CanonicalStore = [key: string, entry: Entry][];

export function canonical(store: Store): CanonicalStore {
  const byBytes = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const sorted = (e: Entry): Entry => {
    switch (e.type) {
      case 'string':
      case 'list':
        return cloneEntry(e);
      case 'set':
        return { ...e, value: [...e.value].sort(byBytes) };
      case 'hash':
        return { ...e, value: [...e.value].sort(([a], [b]) => byBytes(a, b)) };
      case 'zset':
        return { ...e, value: [...e.value].sort(([a], [b]) => byBytes(a, b)) };
    }
  };
  return [...store].sort(([a], [b]) => byBytes(a, b)).map(([key, e]) => [key, sorted(e)]);
}
