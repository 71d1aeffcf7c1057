import { createHash, randomUUID } from 'node:crypto';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, ConnectionError } from '../common/errors.js';
import { toolVersion } from '../common/version.js';
import type { MergePlan } from '../config/plan.js';
import { databaseId, parseRedisUrl, redactUrl } from '../config/url.js';
import type { Caps } from '../servers/caps.js';
import type { TargetClock } from '../servers/clock.js';
import type { Command } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import { sendIdempotent } from '../write/confirm.js';
import { restoreTempKey } from './big-prior.js';
import { JournalFile } from './file.js';
import { FORMAT_VERSION, type JournalHeader } from './format.js';
import { type BigPriors, readPriors, restoreKeys } from './prior.js';
import {
  journaledKey,
  journalTargetIs,
  openJournal,
  openWindows,
  readHeader,
  readRecords,
  type ScanEnd,
} from './reader.js';
import {
  ensureStateDir,
  journalName,
  type PlanJournal,
  planJournals,
  planPrefix,
  repeatsDouble,
} from './state-dir.js';
import type { JournaledKey, PriorState, StepKey, WriteDoor } from './types.js';

/**
 * What decides the fold's result (SPEC §1): sources in order with their matches and prefixes, the
 * strategies and the merge options. Tuning (mode, concurrency, batch) does not change the result, so
 * a resume may change it. A source is its database (host, port, db: databaseId), so another spelling
 * of its host or another user is the same plan; the journal never holds a password.
 */
export function planDigest(plan: MergePlan, source: (url: string) => string = sourceId): string {
  const fold = {
    sources: plan.sources.map((s) => ({
      url: source(s.url),
      match: s.match ?? null,
      prefix: s.prefix.toString('hex'),
    })),
    strategies: plan.strategies,
    merge: plan.merge,
  };
  return createHash('sha256').update(JSON.stringify(fold)).digest('hex');
}

const sourceId = (url: string): string => databaseId(parseRedisUrl(url));

/**
 * Whether a journal records this plan: its digest, or the digest of kvmerge 0.1's first journals,
 * which named each source by its redacted URL as written.
 */
export function isPlanOf(header: JournalHeader, plan: MergePlan): boolean {
  return header.planDigest === planDigest(plan) || header.planDigest === planDigest(plan, redactUrl);
}

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

/** Puts back and cleans up after an interrupted run: the unsettled steps' keys, then its temporary keys. */
async function putBack(
  path: string,
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  state: ResumeState,
): Promise<void> {
  await restoreFromJournal(path, target, caps, clock, state.unsettled);
  // One DEL per key: on a cluster, keys of different slots cannot share a command.
  for (let i = 0; i < state.tempKeys.length; i += 256) {
    const dels = state.tempKeys.slice(i, i + 256).map((key): Command => ['DEL', key]);
    await sendIdempotent(target, dels, 'the target refused to delete a temporary key');
  }
}

/**
 * Puts each failed key (ResumeState.failed) back into its first prior, the state before the run's
 * first change to it: the resume then applies every source's step on it again, in order.
 */
async function putBackFailed(
  path: string,
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  failed: readonly Buffer[],
): Promise<void> {
  if (failed.length === 0) return;
  const wanted = new Set(failed.map((k) => k.toString('latin1')));
  const journal = await openJournal(path);
  async function* firstPriorsOfFailed(): AsyncGenerator<JournaledKey> {
    for await (const entry of journal.firstPriors())
      if (wanted.has(entry.key.toString('latin1'))) yield entry;
  }
  await restoreFromJournal(path, target, caps, clock, firstPriorsOfFailed());
}

/** Puts keys back into journaled priors, 256 to a pipeline, big ones from the journal's windows. */
async function restoreFromJournal(
  path: string,
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  entries: Iterable<JournaledKey> | AsyncIterable<JournaledKey>,
): Promise<void> {
  const windows = await openWindows(path);
  try {
    let batch: JournaledKey[] = [];
    for await (const entry of entries) {
      batch.push(entry);
      if (batch.length < 256) continue;
      await restoreKeys(target, caps, clock, batch, windows.read);
      batch = [];
    }
    await restoreKeys(target, caps, clock, batch, windows.read);
  } finally {
    await windows.close();
  }
}

/** The journal reads every prior state with DUMP (or the type's reads): a user who may not is exit 2 now. */
async function checkDump(target: Transport, caps: Caps, clock: TargetClock): Promise<void> {
  try {
    await readPriors(target, caps, clock, [Buffer.from(`kvmerge-journal-check:${randomUUID()}`)]);
  } catch (err) {
    throw new ConnectionError(
      `--backup cannot read the target's keys (${(err as Error).message}); grant the target user DUMP and PEXPIRETIME ` +
        '(PTTL before Redis 7.0; e.g. ACL SETUSER <user> +dump +pexpiretime +pttl), or run without --backup',
    );
  }
}

/**
 * The backup journal of one merge run (SPEC §6.2, §6.3): opens (or, on resume, reopens and puts back
 * what the interrupted run left unsettled), and gives the writer its door per source.
 */
export class Backup {
  private constructor(
    private readonly file: JournalFile,
    private readonly target: Transport,
    private readonly caps: Caps,
    private readonly clock: TargetClock,
    private readonly state: ResumeState | undefined,
    write: MergePlan['write'],
  ) {
    // A big target key's prior state goes into the journal a window at a time (big-prior.ts).
    this.big = {
      bigKeyElements: write.bigKeyElements,
      bigKeyBytes: write.bigKeyBytes,
      sink: async (key, window) => (await this.file.append([{ kind: 'window', key, ...window }], true))[0]!,
    };
  }

  private readonly big: BigPriors;

  /**
   * Creates the journal, or reopens it for a resume after putting back the interrupted run's
   * unsettled steps and deleting its temporary keys. Called once the target is connected and checked.
   */
  static async open(
    plan: MergePlan,
    state: ResumeState | undefined,
    target: Transport,
    caps: Caps,
    clock: TargetClock,
  ): Promise<Backup> {
    const path = plan.safety.backup!;
    if (state) {
      const file = await JournalFile.reopen(path, state.end.validBytes);
      // A big key is put back under a temporary key (big-prior.ts): announced first, like any other,
      // so that a resume killed during the put-back leaves nothing a rollback or resume does not delete.
      const restoring = state.unsettled.filter((u) => u.prior.kind === 'windows' && caps.rename);
      if (restoring.length > 0) {
        await file.append(
          restoring.map((u) => ({ kind: 'temp' as const, key: restoreTempKey(u.key) })),
          true,
        );
      }
      await putBack(path, target, caps, clock, state);
      await putBackFailed(path, target, caps, clock, state.failed);
      await file.append([{ kind: 'resumed', at: new Date().toISOString() }], true);
      return new Backup(file, target, caps, clock, state, plan.write);
    }
    await checkDump(target, caps, clock);
    const header: JournalHeader = {
      kind: 'header',
      format: FORMAT_VERSION,
      tool: 'kvmerge',
      version: toolVersion(),
      target: redactUrl(plan.target.url),
      planDigest: planDigest(plan),
      runId: randomUUID(),
      startedAt: new Date().toISOString(),
      ...(caps.multiTypeNames ? { typedPriors: true } : {}),
    };
    return new Backup(await JournalFile.create(path, header), target, caps, clock, undefined, plan.write);
  }

  /** What the resumed run's journal said, for the log line. */
  resumeSummary():
    | { finished: number; applied: number; putBack: number; tempKeys: number; failed: number }
    | undefined {
    const s = this.state;
    if (!s) return undefined;
    let applied = 0;
    for (const keys of s.applied.values()) applied += keys.size;
    return {
      finished: s.finished.size,
      applied,
      putBack: s.unsettled.length,
      tempKeys: s.tempKeys.length,
      failed: s.failed.length,
    };
  }

  /**
   * The keys whose step a finished source did not apply: put back to their first prior when the
   * journal was opened, to be applied again through every finished source, in order, before the run
   * goes on (merge.ts).
   */
  retryKeys(): readonly Buffer[] {
    return this.state?.failed ?? [];
  }

  /** Every finished source applied these keys again (durable): a later resume does not retry them. */
  async retried(keys: readonly Buffer[]): Promise<void> {
    await this.file.append([{ kind: 'retried', keys: [...keys] }], true);
  }

  /** The interrupted run finished this source: the resumed run skips it. */
  sourceFinished(source: number): boolean {
    return this.state?.finished.has(source) ?? false;
  }

  /**
   * The interrupted run applied this step (a source key's unit; `type` undefined: any type of the
   * name, where a source holds one type per name): the resumed run skips it.
   */
  wasApplied(source: number, key: Buffer, type: string | undefined): boolean {
    const types = this.state?.applied.get(source)?.get(key.toString('latin1'));
    if (!types) return false;
    return type === undefined ? types.size > 0 : types.has(type);
  }

  /** The writer's door for one source's steps. */
  door(source: number): WriteDoor {
    return {
      before: async (steps) => {
        if (steps.length === 0) return;
        // A create that cannot overwrite (StepKey.absent) needs no read: most steps of a copy.
        const asked = steps.filter((s) => !s.absent);
        const read =
          asked.length === 0
            ? []
            : await readPriors(
                this.target,
                this.caps,
                this.clock,
                asked.map((s) => s.key),
                this.big,
                asked.map((s) => s.type),
              );
        let next = 0;
        const priors = steps.map((s): PriorState => (s.absent ? { kind: 'absent' } : read[next++]!));
        await this.file.append(
          steps.map((s, i) => ({
            kind: 'before' as const,
            source,
            key: s.key,
            type: s.type,
            prior: priors[i]!,
          })),
          true,
        );
      },
      temp: async (key) => {
        await this.file.append([{ kind: 'temp', key }], true);
      },
      applied: (steps: readonly StepKey[]) => {
        if (steps.length === 0) return;
        void this.file
          .append(
            [{ kind: 'applied', source, steps: steps.map((s): [Buffer, string] => [s.key, s.type]) }],
            false,
          )
          .catch(() => undefined);
      },
    };
  }

  /** The run completed (SPEC §6.3): the plan's next plain run knows it from this last record. */
  async complete(): Promise<void> {
    await this.file.append([{ kind: 'done', at: new Date().toISOString() }], true);
  }

  /** Every step of the source is settled (the run goes on to the next one). */
  async sourceDone(source: number): Promise<void> {
    await this.file.append([{ kind: 'sourceDone', source }], true);
  }

  get bytes(): number {
    return this.file.size;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
