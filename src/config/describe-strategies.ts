import type { MergePlan } from './plan.js';

/*
 * The effective strategies in one line, for the start of a run (SPEC §4): a user who forgot a strategy
 * flag learns it before the summary, and the all-`skip` default, which copies only what the target
 * lacks, says so and how to change it.
 */

const TYPES = ['string', 'hash', 'set', 'zset', 'list', 'stream', 'other'] as const;
type Kind = (typeof TYPES)[number];

/** `strategies: merge hash (field: source), zset (score: max) · override string · skip set, … · type mismatch: skip`. */
export function describeStrategies(plan: MergePlan): string {
  const s = plan.strategies;
  const name = (type: Kind): string => {
    if (type === 'other') return 'module types';
    if (s[type] !== 'merge') return type;
    if (type === 'hash') return `hash (field: ${plan.merge.hashField})`;
    if (type === 'zset') return `zset (score: ${plan.merge.zsetScore})`;
    if (type === 'list') return `list (${plan.merge.list})`;
    return type;
  };
  const parts: string[] = [];
  const strategies = ['merge', 'override', 'skip'] as const;
  const used = strategies.filter((strategy) => TYPES.some((t) => s[t] === strategy));
  if (used.length === 1) parts.push(`${used[0]} for every type`);
  else {
    for (const strategy of used) {
      parts.push(
        `${strategy} ${TYPES.filter((t) => s[t] === strategy)
          .map(name)
          .join(', ')}`,
      );
    }
  }
  parts.push(`type mismatch: ${s.typeMismatch}`);
  if (TYPES.some((t) => s[t] === 'merge')) parts.push(`merged TTL: ${plan.merge.ttl}`);
  return `strategies: ${parts.join(' · ')}`;
}

/** The warning when no conflict can change the target, else undefined. */
export function allSkippedWarning(plan: MergePlan): string | undefined {
  const s = plan.strategies;
  if (!TYPES.every((t) => s[t] === 'skip') || s.typeMismatch !== 'skip') return undefined;
  return (
    'warning: every conflict will be skipped (the default): a key the target already has keeps its value; ' +
    'to change it: --on-conflict override (the sources win), --on-conflict merge --string override ' +
    '--stream override, or per type (--hash merge, …)'
  );
}
