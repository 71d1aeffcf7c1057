import type { DataType, Decision, StrategyTable } from '../types/strategy.js';

/**
 * One step of the fold of SPEC §1.2: what happens when a source value of `sourceType` meets
 * the target's current holder of the same key (`targetType`, or null when the target has none).
 * Pure: the dry run, the real run and the model in the property test share this definition.
 * Expiry (SPEC §1.5) is decided before this: an expired source key never reaches decide().
 */
export function decide(sourceType: DataType, targetType: DataType | null, table: StrategyTable): Decision {
  if (targetType === null) return { action: 'create', conflict: false, typeMismatch: false };
  if (targetType !== sourceType) {
    const policy = table.typeMismatch;
    return { action: policy, conflict: true, typeMismatch: true };
  }
  return { action: table[sourceType], conflict: true, typeMismatch: false };
}

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
