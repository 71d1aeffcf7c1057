import { ConfigError } from '../common/errors.js';
import {
  DATA_TYPES,
  type NativeType,
  STRATEGIES,
  type Strategy,
  UNMERGEABLE_TYPES,
} from '../types/strategy.js';
import type { CheckedFlags } from './flags.js';
import type { MergePlan } from './plan.js';
import type { ConfigDoc } from './schema.js';

/**
 * The strategy of each type: its flag, else (without --on-conflict) the file's value for it, else the
 * default; "merge" where a type cannot be merged is refused, and module types never merge.
 */
export function resolveStrategies(
  file: ConfigDoc,
  flags: CheckedFlags,
): Omit<MergePlan['strategies'], 'typeMismatch'> {
  // --on-conflict is "the strategy for every type", so it replaces the file's per-type values too.
  const base =
    flags.onConflict !== undefined
      ? { value: flags.onConflict, field: '--on-conflict' }
      : { value: file.strategies.default, field: 'strategies.default' };

  const resolved = {} as Record<NativeType, Strategy>;
  const inheritedMerge: NativeType[] = [];
  for (const type of DATA_TYPES) {
    const flag = flags.strategies[type];
    const own = flags.onConflict === undefined ? file.strategies[type] : undefined;
    const field = flag !== undefined ? `--${type}` : own !== undefined ? `strategies.${type}` : base.field;
    const value = flag ?? own ?? base.value;
    if (value === 'merge' && UNMERGEABLE_TYPES.includes(type)) {
      if (field !== base.field) {
        throw new ConfigError(
          field,
          `"merge" is not possible for ${type} values; accepted for ${type}: ${mergeableAlternatives()}`,
        );
      }
      inheritedMerge.push(type);
    }
    resolved[type] = value;
  }

  if (inheritedMerge.length > 0) {
    const types = inheritedMerge.join(' and ');
    const fix = inheritedMerge
      .map((t) => (base.field === '--on-conflict' ? `--${t}` : `strategies.${t}`))
      .join(' and ');
    throw new ConfigError(
      base.field,
      `"merge" would apply to ${types} values, which cannot be merged; set ${fix} to ${mergeableAlternatives()}`,
    );
  }

  // Module types (ReJSON, …) are opaque DUMP payloads: they cannot be merged. When the default is
  // merge, keeping the target's value is the choice that never destroys data, so `other` falls back to skip.
  const other: Strategy = base.value === 'merge' ? 'skip' : base.value;
  return { ...resolved, other };
}

function mergeableAlternatives(): string {
  return STRATEGIES.filter((s) => s !== 'merge').join(' | ');
}
