import type { Limiter } from '../common/limiter.js';
import { SeenKeys } from '../common/seen-keys.js';
import type { MergePlan } from '../config/plan.js';
import { walkSources } from '../run/loop.js';
import type { Throttle } from '../run/throttle.js';
import { clusterView } from '../servers/server.js';
import { type Side, scannedSide, withPrefix } from '../verify/sides.js';
import { type RefoldEnv, type Refolded, refoldKeys } from './refold.js';

export interface PassOptions {
  plan: MergePlan;
  limiter: Limiter;
  throttle?: Throttle;
  /** The user's stop: the pass ends early (the follow keeps it due). */
  signal?: AbortSignal;
  /** What each batch of the pass did. */
  folded(refolded: Refolded): void;
}

/**
 * A reconciliation pass over one source (SPEC §9.3): every key it holds now and every key the run
 * wrote (a key deleted on the source while its changes were not heard is one the target holds) is
 * folded again, compared first: only keys that differ are written. Returns the keys compared.
 */
export async function reconcile(env: RefoldEnv, source: number, opts: PassOptions): Promise<number> {
  const { plan, limiter, throttle, signal } = opts;
  let keys = 0;
  const fold = async (batch: Buffer[]): Promise<void> => {
    await throttle?.admit(batch.length);
    keys += batch.length;
    opts.folded(await refoldKeys(env, batch));
  };
  const seen = new SeenKeys();
  const { prefix } = plan.sources[source]!;
  await walkSource(plan, source, env.sources[source]!, limiter, signal, (batch) => {
    const targetKeys = batch.map((k) => withPrefix(prefix, k)).filter((k) => seen.add(k));
    return () => fold(targetKeys);
  });
  let batch: Buffer[] = [];
  for await (const key of env.priors.keys()) {
    if (signal?.aborted) break;
    if (!seen.add(key)) continue;
    batch.push(key);
    if (batch.length >= plan.write.batchSize) {
      const keysNow = batch;
      batch = [];
      await limiter.run(() => fold(keysNow));
    }
  }
  if (batch.length > 0) await limiter.run(() => fold(batch));
  await limiter.idle();
  return keys;
}

/** One source's keys, scanned in batches under the limiter (the walk merge and verify share). */
async function walkSource(
  plan: MergePlan,
  source: number,
  side: Side,
  limiter: Limiter,
  signal: AbortSignal | undefined,
  task: (keys: Buffer[]) => () => Promise<void>,
): Promise<void> {
  await walkSources({
    sources: plan.sources.length,
    signal,
    limiter,
    scan: plan.write,
    open: async (index) =>
      index !== source
        ? undefined
        : {
            scan: { ...scannedSide(side, plan.sources[source]!.match), cluster: clusterView(side.server) },
            task: (batch) => task(batch.units.map((u) => u.key)),
          },
  });
}
