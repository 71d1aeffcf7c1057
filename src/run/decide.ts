import type { KeyProbe, ProbeUnit } from '../probe/probe.js';
import { describeKey } from '../report/key-name.js';
import type { KeyOutcome } from '../report/types.js';
import type { Caps } from '../servers/caps.js';
import type {
  DataType,
  Decision,
  KeyAtWork,
  MismatchPolicy,
  Strategy,
  StrategyTable,
} from '../types/strategy.js';

/**
 * One step of the fold of SPEC §1.2: what happens when a source value of `sourceType` meets
 * the target's current holder of the same key (`targetType`, or null when the target has none).
 * Pure: the dry run, the real run and the model in the property test share this definition.
 * Expiry (SPEC §1.5) is decided before this: an expired source key never reaches decide().
 */
export function decide(sourceType: DataType, targetType: DataType | null, table: StrategyTable): Decision {
  if (targetType === null) return CREATE;
  return targetType !== sourceType ? MISMATCH[table.typeMismatch] : CONFLICT[table[sourceType]];
}

/**
 * Every decision there can be, made once and frozen: decide() runs for every key of a run (and the dry
 * run's fold for every earlier holder too), and a decision object a key was a tenth of a dry run's
 * garbage.
 */
const CONFLICT: Readonly<Record<Strategy, Decision>> = Object.freeze({
  override: Object.freeze({ action: 'override', conflict: true, typeMismatch: false }),
  merge: Object.freeze({ action: 'merge', conflict: true, typeMismatch: false }),
  skip: Object.freeze({ action: 'skip', conflict: true, typeMismatch: false }),
});
const MISMATCH: Readonly<Record<MismatchPolicy, Decision>> = Object.freeze({
  override: Object.freeze({ action: 'override', conflict: true, typeMismatch: true }),
  skip: Object.freeze({ action: 'skip', conflict: true, typeMismatch: true }),
  fail: Object.freeze({ action: 'fail', conflict: true, typeMismatch: true }),
});

/**
 * The target's type after one step, for predicting later steps without writing (the dry run).
 * `fail` leaves the target as it was: a dry run counts it and goes on (SPEC §1.2).
 */
export function typeAfter(
  sourceType: DataType,
  targetType: DataType | null,
  table: StrategyTable,
): DataType | null {
  const { action } = decide(sourceType, targetType, table);
  return action === 'create' || action === 'override' ? sourceType : targetType;
}

/**
 * The type the target holds for a key once `holders` (the types of the earlier sources that hold
 * it, in declared order) have been folded over the target's own `initial` type.
 */
export function foldTypes(
  initial: DataType | null,
  holders: readonly DataType[],
  table: StrategyTable,
): DataType | null {
  let current = initial;
  for (const type of holders) current = typeAfter(type, current, table);
  return current;
}

/** One (source key, type) of a batch, judged: what the fold does with it here. */
export interface Step extends KeyAtWork {
  probe: KeyProbe;
  decision: Decision;
  /** The target's holder at this step (predicted in a dry run). */
  targetType: DataType | null;
  /** This source is the second one to hold the key: counted once as an overlap. */
  overlap: boolean;
}

/** A step that ends at the decision: counted as `outcome`; with `failure`, also a failed key. */
export interface Ended {
  outcome: KeyOutcome;
  failure?: { type: DataType; reason: string; stops: boolean };
}

export interface Decided {
  /** In probe order. */
  ended: Ended[];
  /** Steps to write, in probe order. */
  toWrite: Step[];
  /** Further types of a name already in this round (Pika 3.x): written in a later round. */
  later: ProbeUnit[];
}

export interface DecideContext {
  sourceIndex: number;
  sourceName: string;
  table: StrategyTable;
  dryRun: boolean;
  target: Pick<Caps, 'multiTypeNames' | 'nulInKeys' | 'kind' | 'version'>;
}

const EXPIRED: Decision = { action: 'expired', conflict: false, typeMismatch: false };
/** Most steps of a consolidation: one frozen object for all of them (read, never changed). */
const CREATE: Decision = Object.freeze({ action: 'create', conflict: false, typeMismatch: false });
const NONE: readonly DataType[] = Object.freeze([]);

/**
 * Turns a batch's probes into steps (pure). A key gone from the source ends `expired`; a skip, a
 * typeMismatch `fail` and a key the target cannot take end here; every other step is to be written.
 *
 * Where a source name holds several types (Pika 3.x), each (name, type) is its own step of the fold,
 * in TYPE_ORDER: a real run writes the first type of a name found in this batch and leaves the next
 * ones to later rounds, so each sees what the one before it wrote; a dry run writes nothing, so it
 * folds the types of the earlier sources and the name's earlier types over the target's to predict
 * the step (SPEC §1.2, §5.3). Where the target keeps types side by side, only the same type folds.
 * The name's overlap with earlier sources is counted once, on its first type.
 */
export function decideProbes(probes: readonly KeyProbe[], ctx: DecideContext): Decided {
  const { table, dryRun, sourceIndex } = ctx;
  const out: Decided = { ended: [], toWrite: [], later: [] };
  // Names of this round that already have a unit in it (a name that holds several types).
  const taken = new Set<string>();
  for (const probe of probes) {
    const type = probe.type;
    // Only a name that holds several types in this source can come twice in one round.
    if (type !== null && probe.sourceTypes.length > 1) {
      const name = probe.sourceKey.toString('latin1');
      if (taken.has(name) && !dryRun) {
        out.later.push({ key: probe.sourceKey, type });
        continue;
      }
      taken.add(name);
    }
    // The types this source holds under the name that are folded before this one (TYPE_ORDER).
    const at = type === null ? 0 : probe.sourceTypes.indexOf(type);
    const before = at > 0 ? probe.sourceTypes.slice(0, at) : NONE;
    const overlap = probe.earlierHolders === 1 && before.length === 0;
    if (type === null) {
      if (probe.ifHeld) continue;
      out.ended.push({ outcome: outcomeOf(sourceIndex, probe, 'none', probe.targetType, EXPIRED, overlap) });
      continue;
    }
    const targetType = dryRun ? dryTargetType(probe, type, before, ctx) : probe.targetType;
    const decision = decide(type, targetType, table);
    const { action } = decision;
    const unwritable = action !== 'skip' && action !== 'fail' && refusal(ctx.target, probe);
    if (unwritable) {
      const failed = { ...decision, action: 'fail' as const };
      out.ended.push({
        outcome: outcomeOf(sourceIndex, probe, type, targetType, failed, overlap),
        failure: dryRun ? undefined : { type, reason: unwritable, stops: false },
      });
    } else if (dryRun || action === 'skip' || action === 'fail') {
      out.ended.push({
        outcome: outcomeOf(sourceIndex, probe, type, targetType, decision, overlap),
        failure:
          action === 'fail' && !dryRun
            ? { type, reason: mismatchMessage(ctx.sourceName, probe, type, targetType), stops: true }
            : undefined,
      });
    } else {
      out.toWrite.push({
        name: probe.targetKey,
        type,
        source: sourceIndex,
        probe,
        decision,
        targetType,
        overlap,
      });
    }
  }
  return out;
}

/** A dry run's prediction of the target's holder at this step: earlier sources folded over its own. */
function dryTargetType(
  probe: KeyProbe,
  type: DataType,
  before: readonly DataType[],
  ctx: DecideContext,
): DataType | null {
  // Most keys have no earlier holder and no earlier type of their own: nothing to join or fold.
  const folded =
    before.length === 0 ? probe.earlier : probe.earlier.length === 0 ? before : [...probe.earlier, ...before];
  if (folded.length === 0) return probe.targetType;
  return foldTypes(
    probe.targetType,
    ctx.target.multiTypeNames ? folded.filter((t) => t === type) : folded,
    ctx.table,
  );
}

function outcomeOf(
  sourceIndex: number,
  probe: KeyProbe,
  type: KeyOutcome['type'],
  targetType: DataType | null,
  decision: Decision,
  sourceOverlap: boolean,
): KeyOutcome {
  return { sourceIndex, key: probe.targetKey, type, targetType, decision, sourceOverlap };
}

/** Why the target cannot take this key at all, if it cannot (SPEC §7): counted as failed, never written. */
function refusal(target: DecideContext['target'], probe: KeyProbe): string | undefined {
  if (!target.nulInKeys && probe.targetKey.includes(0)) {
    return `the target (${target.kind} ${target.version}) cuts keys at a NUL byte`;
  }
  return undefined;
}

function mismatchMessage(
  sourceName: string,
  probe: KeyProbe,
  type: DataType,
  targetType: DataType | null,
): string {
  return (
    `type mismatch at ${describeKey(probe.targetKey)}: source ${sourceName} holds a ${type}, the target a ` +
    `${targetType}; typeMismatch is fail (use --type-mismatch override or skip to go on)`
  );
}
