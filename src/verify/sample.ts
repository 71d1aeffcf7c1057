import type { MergePlan } from '../config/plan.js';
import type { JournaledKey } from '../journal/types.js';
import { type Side, scanSide, withPrefix } from './sides.js';

/** `verify --sample N`: which keys are checked, and their journaled priors. */

/**
 * Up to `n` target keys chosen uniformly from the keys the sources hold (a reservoir over the scans;
 * a key held by several sources is one key, so a few fewer may come back). Memory: n keys.
 */
export async function sampleKeys(
  plan: MergePlan,
  sources: Side[],
  n: number,
  signal?: AbortSignal,
): Promise<Buffer[]> {
  const chosen: Buffer[] = [];
  const ids = new Set<string>();
  let seen = 0;
  for (const [index, side] of sources.entries()) {
    const { prefix, match } = plan.sources[index]!;
    const batches = scanSide(plan, side, match);
    for await (const batch of batches) {
      if (signal?.aborted) return chosen;
      for (const unit of batch.units) {
        const key = withPrefix(prefix, unit.key);
        const id = key.toString('latin1');
        if (ids.has(id)) continue;
        seen++;
        if (chosen.length < n) {
          chosen.push(key);
          ids.add(id);
        } else {
          const slot = Math.floor(Math.random() * seen);
          if (slot < n) {
            ids.delete(chosen[slot]!.toString('latin1'));
            chosen[slot] = key;
            ids.add(id);
          }
        }
      }
    }
  }
  return chosen;
}

/** The journaled priors of the sampled keys (memory: the sample's). */
export async function priorsOf(
  priors: AsyncIterable<JournaledKey>,
  keys: Buffer[],
): Promise<Map<string, JournaledKey>> {
  const wanted = new Set(keys.map((k) => k.toString('latin1')));
  const out = new Map<string, JournaledKey>();
  for await (const entry of priors) {
    const id = entry.key.toString('latin1');
    if (wanted.has(id) && !out.has(id)) out.set(id, entry);
  }
  return out;
}
