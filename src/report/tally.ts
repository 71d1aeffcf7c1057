import { DATA_TYPES } from '../types/strategy.js';
import { ACTION_COUNTER, type CountedType, type Counts, emptyCounts } from './counters.js';
import type { ConflictSample, FailedKeySample, Fallback, FallbackSample, KeyOutcome } from './types.js';

/** The order in which types are listed in the report and the summary. */
export const COUNTED_TYPES: readonly CountedType[] = [...DATA_TYPES, 'other', 'none'];

// fatal: invalid bytes must be reported as keyBase64, not replaced by U+FFFD. ignoreBOM: a key that
// starts with EF BB BF is a different key from one that does not, so the BOM must stay in the text.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The accounting stage of the pipeline: every (source, key) is recorded exactly once, in exactly
 * one of created/overridden/merged/skipped/expired/failed, so that scanned is always their sum
 * (SPEC §5.3). The JSON report, the summary table and the progress display all read this one
 * object, which is why a dry run and a real run on the same data report the same numbers.
 */
export class Tally {
  readonly sourceNames: readonly string[];
  private readonly sampleSize: number;
  private readonly total: Counts = emptyCounts();
  private readonly types: Partial<Record<CountedType, Counts>> = {};
  private readonly perSource: number[];
  private conflictTotal = 0;
  private readonly sample: ConflictSample[] = [];
  private readonly fallbackKeys = new Map<string, { keys: number; sample: FallbackSample[] }>();
  private readonly failedSample: FailedKeySample[] = [];

  constructor(sourceNames: string[], sampleSize: number) {
    this.sourceNames = [...sourceNames];
    this.sampleSize = Math.max(0, Math.floor(sampleSize));
    this.perSource = sourceNames.map(() => 0);
  }

  /** Counts one (source, key). Runs once per key on the hot path: no allocation unless it is sampled. */
  record(o: KeyOutcome): void {
    if (o.sourceIndex < 0 || o.sourceIndex >= this.perSource.length) {
      // A wrong index would otherwise turn a per-source count into NaN in the report, far from the bug.
      throw new RangeError(`Tally.record: source index ${o.sourceIndex} out of range`);
    }
    const counter = ACTION_COUNTER[o.decision.action];
    let t = this.types[o.type];
    if (t === undefined) {
      t = emptyCounts();
      this.types[o.type] = t;
    }
    const total = this.total;
    total.scanned++;
    t.scanned++;
    total[counter]++;
    t[counter]++;
    if (o.decision.typeMismatch) {
      total.typeMismatch++;
      t.typeMismatch++;
    }
    if (o.sourceOverlap) {
      total.sourceOverlap++;
      t.sourceOverlap++;
    }
    this.perSource[o.sourceIndex]!++;
    if (o.decision.conflict) {
      this.conflictTotal++;
      if (this.sample.length < this.sampleSize) this.addSample(o);
    }
  }

  /**
   * Notes that `keys` keys took the native path instead of DUMP/RESTORE, and why (SPEC §2.1). `at`
   * names the key (as written to the target) and its source; the first `sampleSize` named keys of
   * each reason are listed in the report, like the conflicts.
   */
  fallback(reason: string, keys = 1, at?: { key: Buffer; sourceIndex: number }): void {
    let entry = this.fallbackKeys.get(reason);
    if (entry === undefined) {
      entry = { keys: 0, sample: [] };
      this.fallbackKeys.set(reason, entry);
    }
    entry.keys += keys;
    if (at !== undefined && entry.sample.length < this.sampleSize) {
      const source = this.sourceNames[at.sourceIndex] ?? String(at.sourceIndex);
      const key = utf8OrNull(at.key);
      entry.sample.push(key === null ? { keyBase64: at.key.toString('base64'), source } : { key, source });
    }
  }

  /** Names a key that could not be written and why (SPEC §6.4); the first `sampleSize` are kept. */
  keyFailed(key: Buffer, sourceIndex: number, type: string, reason: string): void {
    if (this.failedSample.length >= this.sampleSize) return;
    const text = utf8OrNull(key);
    const entry = { source: this.sourceNames[sourceIndex]!, type, reason };
    this.failedSample.push(
      text === null ? { keyBase64: key.toString('base64'), ...entry } : { key: text, ...entry },
    );
  }

  failedKeys(): FailedKeySample[] {
    return this.failedSample.map((f) => ({ ...f }));
  }

  totals(): Counts {
    return { ...this.total };
  }

  /** Copies of the counters of the types seen so far, in the order of COUNTED_TYPES. */
  byType(): Partial<Record<CountedType, Counts>> {
    const out: Partial<Record<CountedType, Counts>> = {};
    for (const type of COUNTED_TYPES) {
      const counts = this.types[type];
      if (counts) out[type] = { ...counts };
    }
    return out;
  }

  sourceScanned(index: number): number {
    return this.perSource[index] ?? 0;
  }

  conflicts(): { total: number; sample: ConflictSample[] } {
    return { total: this.conflictTotal, sample: this.sample.map((s) => ({ ...s })) };
  }

  /** Fallback reasons in the order they first occurred, each with its sample of keys. */
  fallbacks(): Fallback[] {
    return [...this.fallbackKeys].map(([reason, { keys, sample }]) => ({
      reason,
      keys,
      sample: sample.map((s) => ({ ...s })),
    }));
  }

  private addSample(o: KeyOutcome): void {
    // decide() reports a conflict only when both sides hold a typed value; an outcome that breaks
    // this is still counted above, but cannot be described by a ConflictSample.
    if (o.type === 'none' || o.targetType === null) return;
    const entry: ConflictSample = {
      source: this.sourceNames[o.sourceIndex]!,
      sourceType: o.type,
      targetType: o.targetType,
      // ACTION_COUNTER maps every action to its past-tense counter, which is the sample's wording.
      action: ACTION_COUNTER[o.decision.action] as ConflictSample['action'],
    };
    const key = utf8OrNull(o.key);
    // Put the key first so that a reader of the JSON sees it before the details.
    this.sample.push(key === null ? { keyBase64: o.key.toString('base64'), ...entry } : { key, ...entry });
  }
}

/** The key as text when it is valid UTF-8, null otherwise (Buffer.toString would replace bad bytes). */
function utf8OrNull(bytes: Buffer): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}
