import { Limiter } from '../common/limiter.js';
import type { MergePlan } from '../config/plan.js';
import type { JournaledKey } from '../journal/types.js';
import { walkSources } from '../run/loop.js';
import { type SourceSide, sourcePass, withPrefix } from './sides.js';

/** `verify --sample N`: which keys are checked, and their journaled priors. */

/**
 * Up to `n` target keys chosen uniformly from the keys the sources hold (a reservoir over the scans;
 * a key held by several sources is one key, so a few fewer may come back). Memory: n keys.
 */
export async function sampleKeys(
  plan: MergePlan,
  sources: SourceSide[],
  n: number,
  signal?: AbortSignal,
): Promise<Buffer[]> {
  const chosen: Buffer[] = [];
  const ids = new Set<string>();
  let seen = 0;
  const pick = (key: Buffer): void => {
    const id = key.toString('latin1');
    if (ids.has(id)) return;
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
  };
  // One batch at a time: the reservoir sees the keys in scan order.
  await walkSources({
    sources: sources.length,
    signal,
    limiter: new Limiter(1),
    scan: plan.write,
    open: async (index) => {
      const { prefix, match } = plan.sources[index]!;
      return {
        // A file's records are not held: the sampled keys are read by name afterwards (its index).
        ...sourcePass(sources[index]!, plan, match, false),
        task: (batch) => async () => {
          for (const unit of batch.units) pick(withPrefix(prefix, unit.key));
        },
      };
    },
  });
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
