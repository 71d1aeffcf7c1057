import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../common/errors.js';
import type { MergePlan } from '../config/plan.js';
import { isPlanOf, planDigest } from './plan-digest.js';
import { journalTargetIs } from './reader.js';
import { loadResumeState, type ResumeState } from './resume-state.js';
import {
  ensureStateDir,
  journalName,
  type PlanJournal,
  planJournals,
  planPrefix,
  repeatsDouble,
} from './state-dir.js';

/**
 * Where a real run journals, and whether it may run at all (SPEC §6.2, §6.3), before any connection.
 * With a state directory (the CLI's default): the plan's last run there (a rolled-back run does not
 * count: its changes were undone) must not be interrupted, nor completed when the plan repeats double
 * (list append or prepend, zset sum), unless `again`; `resume` without `backup` takes that interrupted
 * run's journal; a run without `backup` and without `noBackup` journals into a new file there.
 * Returns the plan with `safety.backup` set to the journal it will write, if any.
 */
export async function chooseJournal(plan: MergePlan, startedAt: Date): Promise<MergePlan> {
  const { backup, resume, again, noBackup, stateDir } = plan.safety;
  if (noBackup && backup !== undefined) {
    throw new ConfigError('--no-backup', 'and --backup FILE contradict each other: keep one');
  }
  if (noBackup && resume) {
    throw new ConfigError('--resume', 'continues a run from its journal: drop --no-backup');
  }
  if (resume && again) {
    throw new ConfigError(
      '--again',
      'starts the plan over as a new run, --resume continues the interrupted one: keep one',
    );
  }
  if (stateDir === undefined || (resume && backup !== undefined)) return plan;
  const prefix = planPrefix(plan, planDigest(plan));
  const journals = await planJournals(
    stateDir,
    prefix,
    (header) => isPlanOf(header, plan) && journalTargetIs(header, plan.target.url),
  );
  const last = journals.filter((j) => j.status !== 'rolled back').at(-1);
  if (resume) {
    if (last?.status !== 'interrupted') {
      throw new ConfigError(
        '--resume',
        `no interrupted run of this plan (these sources, target and strategies) in ${stateDir}` +
          (last ? ` (its last run, ${last.path}, completed)` : '') +
          "; give the interrupted run's journal with --backup FILE",
      );
    }
    return { ...plan, safety: { ...plan.safety, backup: last.path } };
  }
  if (!again && last) refuseRerun(plan, last);
  if (noBackup || backup !== undefined) return plan;
  await ensureStateDir(stateDir);
  return { ...plan, safety: { ...plan.safety, backup: join(stateDir, journalName(prefix, startedAt)) } };
}

/** Exit 2 when the plan's last run (`last`) must not be followed by a plain run of it (SPEC §6.3). */
function refuseRerun(plan: MergePlan, last: PlanJournal): void {
  const doubles = repeatsDouble(plan);
  if (last.status === 'interrupted') {
    throw new ConfigError(
      '',
      `a run of this plan (these sources, target and strategies) started ${last.startedAt} did not complete; ` +
        `its journal is ${last.path}. Continue it with --resume (nothing applied twice), ` +
        `or add --again to run the plan over as a new run` +
        (doubles ? ` (its ${doubles} then applies a second time what the first run applied)` : '') +
        `; \`kvmerge rollback --backup ${last.path}\` undoes what it did`,
    );
  }
  if (last.status === 'completed' && doubles) {
    throw new ConfigError(
      '',
      `this plan (these sources, target and strategies) already ran to completion (started ${last.startedAt}, ` +
        `journal ${last.path}) and its ${doubles} would apply a second time; add --again if that is meant, ` +
        `or undo the first run with \`kvmerge rollback --backup ${last.path}\``,
    );
  }
}

/** Checks before any connection: a new journal's path is free, a resumed one belongs to this plan. */
export async function prepareBackup(plan: MergePlan): Promise<ResumeState | undefined> {
  const { backup, resume } = plan.safety;
  if (backup === undefined) {
    if (resume) throw new ConfigError('--resume', 'needs --backup FILE: the journal of the run to continue');
    return undefined;
  }
  if (resume) return await loadResumeState(backup, plan);
  const exists = await access(backup).then(
    () => true,
    () => false,
  );
  if (exists) {
    throw new ConfigError(
      '--backup',
      `${backup} already exists; add --resume to continue the run it records, or give a new file`,
    );
  }
  return undefined;
}
