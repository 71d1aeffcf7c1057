import { randomUUID } from 'node:crypto';
import { ConnectionError } from '../common/errors.js';
import { toolVersion } from '../common/version.js';
import type { MergePlan } from '../config/plan.js';
import { redactUrl } from '../config/url.js';
import type { Caps } from '../servers/caps.js';
import type { TargetClock } from '../servers/clock.js';
import type { Transport } from '../servers/transport.js';
import type { StepKey, WriteDoor } from '../write/door.js';
import { restoreTempKey } from './big-prior.js';
import { JournalFile } from './file.js';
import { encodeApplied, encodeBefores, FORMAT_VERSION } from './format.js';
import { planDigest, planRecord } from './plan-digest.js';
import { type BigPriors, readPriors } from './prior.js';
import { putBack, putBackFailed } from './put-back.js';
import type { ResumeState } from './resume-state.js';
import type { JournalHeader, PriorState } from './types.js';

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
   * `command` (passwords masked) goes into a new journal's header, for `kvmerge status`.
   */
  static async open(
    plan: MergePlan,
    state: ResumeState | undefined,
    target: Transport,
    caps: Caps,
    clock: TargetClock,
    command?: readonly string[],
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
      plan: planRecord(plan),
      ...(command ? { command: [...command] } : {}),
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

  /** Whether the interrupted run applied any step of this source (wasApplied can say yes). */
  appliedIn(source: number): boolean {
    return (this.state?.applied.get(source)?.size ?? 0) > 0;
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
        let asked = 0;
        for (const s of steps) if (!s.absent) asked++;
        const priors: (PriorState | undefined)[] = new Array(steps.length);
        if (asked > 0) {
          const names: Buffer[] = [];
          const types: string[] = [];
          for (const s of steps) {
            if (s.absent) continue;
            names.push(s.name);
            types.push(s.type);
          }
          const read = await readPriors(this.target, this.caps, this.clock, names, this.big, types);
          let next = 0;
          for (let i = 0; i < steps.length; i++) if (!steps[i]!.absent) priors[i] = read[next++];
        }
        await this.file.appendFrames(encodeBefores(source, steps, priors), true);
      },
      temp: async (key) => {
        await this.file.append([{ kind: 'temp', key }], true);
      },
      applied: (steps: readonly StepKey[]) => {
        if (steps.length === 0) return;
        void this.file.appendFrames(encodeApplied(source, steps), false).catch(() => undefined);
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
