import type { Holder } from './lock.js';
import type { JournalHeader, JournalPlan, JournalRecord } from './types.js';

/**
 * What `kvmerge status` says of a journal (SPEC §11), from its records alone: no server is asked. Pure:
 * the caller reads the file and the lock (run-status.ts) and feeds the records in order.
 */

/**
 * How a run stands. `interrupted` is any run that did not complete and is not at work: stopped by
 * Ctrl-C, a crash, kill -9 or an error part-way (the journal cannot tell them apart, and each is
 * resumed the same way). `rolled back`: a rollback began (it may have been cut short; it is safe to
 * run again). `running`: a live process holds the journal's lock.
 */
export type RunState = 'completed' | 'interrupted' | 'running' | 'rolled back';

export interface JournalSummary {
  journal: string;
  runId: string;
  /** The kvmerge version that started the run. */
  version: string;
  startedAt: string;
  /** Redacted. */
  target: string;
  state: RunState;
  /** The process at work on it, when `running`. */
  holder?: Holder;
  /** Absent in the journals of kvmerge 0.1.0, which did not record it. */
  plan?: JournalPlan;
  /** Each source of the plan (or, without one, each the records name), in order, and whether it finished. */
  sources: { index: number; name?: string; url?: string; finished: boolean }[];
  /** Steps (a source's key, of one type) whose write the target acknowledged. */
  keysApplied: number;
  /** Steps whose key's prior state was journaled (begun; applied or not). */
  keysJournaled: number;
  /** How many times the run was resumed. */
  resumed: number;
  completedAt?: string;
  rollbackAt?: string;
  /** The last record was cut short (a crash while writing it): ignored, as every reader does. */
  torn: boolean;
  /** The command that continues the run, when it can be continued. */
  resume?: string;
  /** The command that undoes it (or finishes undoing it), unless it is at work. */
  rollback?: string;
  /** What the commands need from the user (a password the journal does not hold). */
  notes: string[];
}

/** Folds a journal's records, header first, into its summary. */
export class SummaryFold {
  private readonly finished = new Set<number>();
  private readonly named = new Set<number>();
  private applied = 0;
  private journaled = 0;
  private resumed = 0;
  private completedAt: string | undefined;
  private rollbackAt: string | undefined;

  constructor(private readonly header: JournalHeader) {}

  add(record: JournalRecord): void {
    switch (record.kind) {
      case 'before':
        this.journaled++;
        this.named.add(record.source);
        break;
      case 'applied':
        this.applied += record.steps.length;
        this.named.add(record.source);
        break;
      case 'sourceDone':
        this.finished.add(record.source);
        this.named.add(record.source);
        break;
      case 'resumed':
        this.resumed++;
        break;
      case 'done':
        this.completedAt = record.at;
        break;
      case 'rollback':
        this.rollbackAt ??= record.at;
        break;
    }
  }

  /**
   * The summary of what was added. `journal` is the path the commands name; `holder`, the live process
   * holding its lock, if any; `torn`, whether the file ended in a cut-short record.
   */
  finish(journal: string, opts: { holder?: Holder; torn: boolean }): JournalSummary {
    const h = this.header;
    const state: RunState = opts.holder
      ? 'running'
      : this.rollbackAt !== undefined
        ? 'rolled back'
        : this.completedAt !== undefined
          ? 'completed'
          : 'interrupted';
    const indexes = h.plan
      ? h.plan.sources.map((_, i) => i)
      : [...new Set([...this.named, ...this.finished])].sort((a, b) => a - b);
    const summary: JournalSummary = {
      journal,
      runId: h.runId,
      version: h.version,
      startedAt: h.startedAt,
      target: h.target,
      state,
      ...(opts.holder ? { holder: opts.holder } : {}),
      ...(h.plan ? { plan: h.plan } : {}),
      sources: indexes.map((index) => {
        const source = h.plan?.sources[index];
        return {
          index,
          ...(source ? { name: source.name, url: source.url } : {}),
          finished: this.finished.has(index),
        };
      }),
      keysApplied: this.applied,
      keysJournaled: this.journaled,
      resumed: this.resumed,
      ...(this.completedAt !== undefined ? { completedAt: this.completedAt } : {}),
      ...(this.rollbackAt !== undefined ? { rollbackAt: this.rollbackAt } : {}),
      torn: opts.torn,
      notes: [],
    };
    if (state === 'interrupted') summary.resume = resumeCommand(h, journal);
    if (state !== 'running') summary.rollback = `kvmerge rollback --backup ${shellWord(journal)}`;
    if (summary.resume !== undefined && !h.command) {
      summary.notes.push(
        h.plan
          ? 'the journal does not hold the command line that started the run: give the resume its other options (config file, prefixes, matches, merge options) as the run had them'
          : "this journal (kvmerge 0.1.0) does not record its plan: resume with the run's own options",
      );
    }
    if (summary.resume?.includes(MASK)) {
      summary.notes.push('the journal holds no password: put each one back where *** stands');
    }
    if (summary.rollback !== undefined && h.target.includes(MASK)) {
      summary.notes.push(`the target needs its password: add -t with ${h.target}'s full URL to the rollback`);
    }
    return summary;
  }
}

const MASK = '***';

/** Flags of the run's command line that a resume replaces (a value follows the ones marked true). */
const DROPPED: Record<string, boolean> = {
  '--backup': true,
  '--resume': false,
  '--again': false,
  '--no-backup': false,
};

/**
 * `kvmerge merge … --backup JOURNAL --resume`: the run's own command line (header.command) with its
 * journal options replaced; without one, the plan's sources, target and strategies as flags; without a
 * plan (an older journal), a placeholder for the run's options.
 */
export function resumeCommand(header: JournalHeader, journal: string): string {
  const tail = ['--backup', journal, '--resume'];
  if (header.command) {
    const kept: string[] = [];
    const args = header.command;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      const name = arg.split('=')[0]!;
      if (name in DROPPED) {
        // `--backup FILE` drops its value too; `--backup=FILE` is one word.
        if (DROPPED[name] && !arg.includes('=')) i++;
        continue;
      }
      kept.push(arg);
    }
    if (kept[0] !== 'merge') kept.unshift('merge');
    return ['kvmerge', ...[...kept, ...tail].map(shellWord)].join(' ');
  }
  if (!header.plan) return `kvmerge merge <the run's options> ${tail.map(shellWord).join(' ')}`;
  const { plan } = header;
  const args = ['merge', ...plan.sources.flatMap((s) => ['-s', s.url]), '-t', header.target];
  for (const [type, strategy] of Object.entries(plan.strategies)) {
    if (type === 'other') continue;
    args.push(type === 'typeMismatch' ? '--type-mismatch' : `--${type}`, strategy);
  }
  return ['kvmerge', ...[...args, ...tail].map(shellWord)].join(' ');
}

/** A word as a POSIX shell reads it back: as is when it is plain, else in single quotes. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** One run of the state directory's listing: its header and how it stands, from the file's tail. */
export interface ListedRun {
  journal: string;
  runId: string;
  startedAt: string;
  target: string;
  /** Source names (URLs in journals without a plan: none known). */
  sources: string[];
  state: RunState;
  holder?: Holder;
}

/** A listed run from its header, the state its last record says (state-dir.ts) and its lock holder. */
export function listedRun(
  journal: string,
  header: JournalHeader,
  ended: 'completed' | 'interrupted' | 'rolled back',
  holder: Holder | undefined,
): ListedRun {
  return {
    journal,
    runId: header.runId,
    startedAt: header.startedAt,
    target: header.target,
    sources: header.plan?.sources.map((s) => s.name) ?? [],
    state: holder ? 'running' : ended,
    ...(holder ? { holder } : {}),
  };
}

/** The summary as `kvmerge status --backup FILE` prints it. */
export function formatSummary(s: JournalSummary): string {
  const lines = [
    `journal    ${s.journal}`,
    `run        ${s.runId} (kvmerge ${s.version}), started ${s.startedAt}`,
  ];
  lines.push(`state      ${stateLine(s)}`);
  lines.push(`target     ${s.target}`);
  const total = s.sources.length;
  const done = s.sources.filter((x) => x.finished).length;
  lines.push(`sources    ${done} of ${total} finished`);
  for (const src of s.sources) {
    const label = src.name !== undefined ? `${src.name} (${src.url})` : '(not recorded in this journal)';
    lines.push(`  ${src.index + 1}. ${label}${src.finished ? ': finished' : ''}`);
  }
  if (s.plan) {
    const { typeMismatch, ...types } = s.plan.strategies;
    const strategies = Object.entries(types).map(([t, v]) => `${t} ${v}`);
    lines.push(`strategies ${strategies.join(', ')}; type mismatch ${typeMismatch}`);
    lines.push(
      `merge      ${Object.entries(s.plan.merge)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    for (const src of s.plan.sources) {
      const extra = [
        src.match !== undefined ? `match ${src.match}` : '',
        src.prefix !== undefined ? `prefix ${JSON.stringify(src.prefix)}` : '',
      ];
      if (extra.some((e) => e !== ''))
        lines.push(`  ${src.name}: ${extra.filter((e) => e !== '').join(', ')}`);
    }
  } else
    lines.push(
      'plan       not recorded (a journal of kvmerge 0.1.0): only its digest, for resume and verify',
    );
  lines.push(
    `keys       ${s.keysApplied} applied, ${s.keysJournaled} journaled${s.resumed > 0 ? `; resumed ${s.resumed} time(s)` : ''}`,
  );
  if (s.torn) lines.push('           its last record was cut short by a crash and is ignored');
  if (s.resume !== undefined) lines.push(`resume     ${s.resume}`);
  if (s.rollback !== undefined)
    lines.push(`${(s.state === 'rolled back' ? 'finish' : 'undo').padEnd(11)}${s.rollback}`);
  for (const note of s.notes) lines.push(`note       ${note}`);
  return lines.join('\n');
}

function stateLine(s: JournalSummary): string {
  switch (s.state) {
    case 'completed':
      return `completed ${s.completedAt}`;
    case 'interrupted':
      return 'interrupted (stopped before it completed: Ctrl-C, a crash or an error); resume it or undo it';
    case 'rolled back':
      return `rolled back (a rollback began ${s.rollbackAt}; if it was cut short, run it again: it is safe to repeat)`;
    case 'running':
      return `running: pid ${s.holder!.pid} on ${s.holder!.host} holds it since ${s.holder!.since}; wait for it to end`;
  }
}

/** The listing of `kvmerge status` without --backup. */
export function formatListing(
  dir: string,
  runs: ListedRun[],
  unreadable: { journal: string; error: string }[],
): string {
  if (runs.length === 0 && unreadable.length === 0) return `no runs journaled in ${dir}`;
  const lines = [`runs journaled in ${dir}, oldest first:`];
  for (const r of runs) {
    const sources = r.sources.length > 0 ? r.sources.join(', ') : 'sources not recorded';
    const state = r.state === 'running' ? `running (pid ${r.holder!.pid})` : r.state;
    lines.push(`  ${r.startedAt}  ${state.padEnd(11)}  ${sources} -> ${r.target}`);
    lines.push(`    ${r.journal}`);
  }
  for (const u of unreadable) lines.push(`  unreadable: ${u.error}`);
  lines.push('details of one run: kvmerge status --backup FILE');
  return lines.join('\n');
}
