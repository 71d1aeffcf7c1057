import { globMatch } from '../common/glob.js';
import type { SourcePlan } from '../config/plan.js';

/**
 * The key a source holds for a target key: the target key without the source's prefix, where it has
 * that prefix and the source's `match` admits the rest; undefined where this source cannot hold it.
 * (A run writes source key K to prefix + K, for the keys its SCAN MATCH lists.)
 */
export function sourceKeyOf(
  source: Pick<SourcePlan, 'prefix' | 'match'>,
  targetKey: Buffer,
): Buffer | undefined {
  const { prefix, match } = source;
  if (targetKey.length < prefix.length || targetKey.compare(prefix, 0, prefix.length, 0, prefix.length) !== 0)
    return undefined;
  const key = targetKey.subarray(prefix.length);
  return match === undefined || globMatch(Buffer.from(match), key) ? key : undefined;
}
