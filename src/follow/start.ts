import type { MergePlan } from '../config/plan.js';
import type { JsonReport } from '../report/types.js';
import { type RunHooks, runMerge as runSnapshot } from '../run/merge.js';
import { Follow, type FollowStatus } from './follow.js';

export interface MergeHooks extends RunHooks {
  /** During a follow (SPEC §9.4): pending keys, lag, keys/s, caught up, after each status period. */
  followStatus?: (status: FollowStatus) => void;
}

/**
 * Runs the merge of SPEC §1 (run/merge.ts) and, when the plan follows (SPEC §9), the live merge
 * around it: the sources' changes are subscribed to before the snapshot and folded again after it,
 * until the user's stop (Ctrl-C: what is pending is applied, the outcome is `done`) or, with
 * `untilCaughtUp`, the first time nothing is pending.
 */
export async function runMerge(plan: MergePlan, hooks: MergeHooks = {}): Promise<JsonReport> {
  if (!plan.follow) return runSnapshot(plan, hooks);
  const log = hooks.log ?? (() => {});
  const follow = new Follow(plan, plan.follow, { signal: hooks.signal, log, status: hooks.followStatus });
  return runSnapshot(plan, { ...hooks, around: follow });
}
