import type { MergePlan } from '../config/plan.js';
import type { JsonReport } from '../report/types.js';

/** The exit codes of SPEC §4. */
export const EXIT = {
  /** The run finished. */
  done: 0,
  /** The run failed part-way; the summary says what was done. Also an internal error. */
  failed: 1,
  /** Bad usage or configuration, an unreachable server, failed authentication: found before any write. */
  usage: 2,
  /** `--dry-run --fail-on-conflict` found conflicts. */
  conflicts: 3,
  /** Ctrl-C, after in-flight batches settled and the summary was printed. */
  interrupted: 130,
} as const;

/**
 * The exit code of a run that produced a report. Interrupted and failed win over the conflict gate: a
 * dry run that did not finish has not proven anything about conflicts.
 */
export function exitCodeFor(report: JsonReport, plan: Pick<MergePlan, 'dryRun' | 'failOnConflict'>): number {
  if (report.outcome === 'interrupted') return EXIT.interrupted;
  if (report.outcome === 'failed') return EXIT.failed;
  if (plan.dryRun && plan.failOnConflict && report.conflicts.total > 0) return EXIT.conflicts;
  return EXIT.done;
}
