import { ConfigError } from '../common/errors.js';
import type { MergePlan } from '../config/plan.js';
import { redactUrl } from '../config/url.js';
import { isPlanOf } from './plan-digest.js';
import { journaledKey, journalTargetIs, readHeader, readRecords, type ScanEnd } from './reader.js';
import type { JournaledKey, JournalHeader } from './types.js';

/** What an interrupted run's journal says is done and what is not. */
export interface ResumeState {
  header: JournalHeader;
  /** Sources whose every step was settled. */
  finished: Set<number>;
  /** Per source: target key (latin1) → the types whose step was applied. */
  applied: Map<number, Map<string, Set<string>>>;
  /** Steps announced but not known to be applied: put back to their prior state before going on. */
  unsettled: JournaledKey[];
  /** Temporary keys the run announced: deleted before going on. */
  tempKeys: Buffer[];
  /**
   * Keys a step of a finished source did not apply (it failed under --on-error skip, or its source key
   * expired meanwhile): put back to their first prior and applied again through every source.
   */
  failed: Buffer[];
  /** Where whole records end (a torn last record is cut off before appending). */
  end: ScanEnd;
}

const stepId = (source: number, key: Buffer, type: string): string =>
  `${source}\u0000${type}\u0000${key.toString('latin1')}`;

/** Reads an interrupted run's journal into what a resume needs; refuses another plan or target (exit 2). */
export async function loadResumeState(path: string, plan: MergePlan): Promise<ResumeState> {
  const header = await readHeader(path);
  const target = redactUrl(plan.target.url);
  if (!journalTargetIs(header, plan.target.url)) {
    throw new ConfigError(
      '--resume',
      `${path} is the journal of a run into ${header.target}, not ${target}; resume with that run's target, or start a new journal`,
    );
  }
  if (!isPlanOf(header, plan)) {
    throw new ConfigError(
      '--resume',
      `${path} records a run with other sources, strategies or merge options; resume with the same configuration, or start a new journal`,
    );
  }
  const end: ScanEnd = { validBytes: 0, torn: false };
  const finished = new Set<number>();
  const applied = new Map<number, Map<string, Set<string>>>();
  const unsettled = new Map<string, { source: number; step: JournaledKey }>();
  const temps = new Map<string, Buffer>();
  const failed = new Map<string, Buffer>();
  // A finished source's steps that never came to be applied: their keys failed (see ResumeState).
  const settleFinished = (): void => {
    for (const [id, { source, step }] of unsettled) {
      if (!finished.has(source)) continue;
      failed.set(step.key.toString('latin1'), step.key);
      unsettled.delete(id);
    }
  };
  for await (const record of readRecords(path, end)) {
    switch (record.kind) {
      case 'before':
        unsettled.set(stepId(record.source, record.key, record.type), {
          source: record.source,
          step: journaledKey(header, record),
        });
        break;
      case 'applied': {
        const keys = applied.get(record.source) ?? new Map<string, Set<string>>();
        applied.set(record.source, keys);
        for (const [key, type] of record.steps) {
          unsettled.delete(stepId(record.source, key, type));
          const name = key.toString('latin1');
          const types = keys.get(name) ?? new Set<string>();
          keys.set(name, types);
          types.add(type);
        }
        break;
      }
      case 'sourceDone':
        // Its steps that were never applied (failed, expired) are not put back alone: a later source
        // may write those keys. Their keys are applied again from their first prior (ResumeState.failed).
        finished.add(record.source);
        applied.delete(record.source);
        settleFinished();
        break;
      case 'retried':
        for (const key of record.keys) failed.delete(key.toString('latin1'));
        settleFinished();
        break;
      case 'temp':
        temps.set(record.key.toString('latin1'), record.key);
        break;
      case 'rollback':
        throw new ConfigError(
          '--resume',
          `${path} records a run that a rollback began to undo (${record.at}); it cannot be resumed: run the merge again with a new journal`,
        );
    }
  }
  // A failed key is applied again through every source: none of its steps counts as applied.
  for (const keys of applied.values()) for (const name of failed.keys()) keys.delete(name);
  return {
    header,
    finished,
    applied,
    failed: [...failed.values()],
    // Undone last first: where one key has several unsettled steps (the types of a Pika 3.x name), a
    // later step's prior is what an earlier step left, and the earliest prior must be the last put back.
    unsettled: [...unsettled.values()].reverse().map(({ step }) => step),
    tempKeys: [...temps.values()],
    end,
  };
}
