import { createHash } from 'node:crypto';
import { mkdir, open, readdir, statfs } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from '../common/errors.js';
import type { MergePlan } from '../config/plan.js';
import { databaseId, parseRedisUrl } from '../config/url.js';
import { decodeFrame } from './format.js';
import { type JournalHeader, readHeader } from './reader.js';

/**
 * kvmerge's own state (SPEC §6.2): the default journals, one per run. `$KVMERGE_STATE_DIR`, else
 * `$XDG_STATE_HOME/kvmerge`, else `~/.local/state/kvmerge`.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KVMERGE_STATE_DIR) return env.KVMERGE_STATE_DIR;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'kvmerge');
  return join(homedir(), '.local', 'state', 'kvmerge');
}

/**
 * The prefix of a default journal's name: what decides the run's result and where it goes (sources,
 * strategies and merge options: plan-digest.ts planDigest; and the target's database). Two runs of one plan
 * share it; the start time tells them apart.
 */
export function planPrefix(plan: MergePlan, fold: string): string {
  const target = databaseId(parseRedisUrl(plan.target.url));
  return createHash('sha256').update(`${fold}\n${target}`).digest('hex').slice(0, 16);
}

/** `<plan prefix>-<start time, UTC, to the millisecond>.journal`: sorts by start time within a plan. */
export function journalName(prefix: string, startedAt: Date): string {
  const time = startedAt.toISOString().replace(/[-:]/g, '').replace('.', '-');
  return `${prefix}-${time}.journal`;
}

/** Creates the state directory (owner only: a journal holds the target's values). */
export async function ensureStateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(
      '--backup',
      `cannot create the state directory ${dir} (${code}); set KVMERGE_STATE_DIR to a writable directory, give --backup FILE, or run with --no-backup`,
    );
  }
}

export type JournalStatus = 'interrupted' | 'completed' | 'rolled back';

export interface PlanJournal {
  path: string;
  startedAt: string;
  status: JournalStatus;
}

/**
 * The journals of one plan in the state directory (named with its prefix, and whose header `isOurs`
 * says is this plan's: same fold, same target), oldest first, with how each run ended. A journal
 * another kvmerge is still writing counts as interrupted.
 */
export async function planJournals(
  dir: string,
  prefix: string,
  isOurs: (header: JournalHeader) => boolean,
): Promise<PlanJournal[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const found: PlanJournal[] = [];
  for (const name of names.filter((n) => n.startsWith(`${prefix}-`) && n.endsWith('.journal')).sort()) {
    const path = join(dir, name);
    // A file that is not (or no longer) a readable journal of this plan is not this plan's.
    const header = await readHeader(path).catch(() => undefined);
    if (!header || !isOurs(header)) continue;
    found.push({ path, startedAt: header.startedAt, status: await journalStatus(path) });
  }
  return found;
}

/**
 * How a journal's run ended, from its last record alone (the file can be gigabytes): `done` is the last
 * record a completed run writes, `rollback` the one a rollback writes before its first change. Anything
 * else last (a step's record, a torn frame) is a run that never completed.
 */
export async function journalStatus(path: string): Promise<JournalStatus> {
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    const length = Math.min(size, TAIL);
    const tail = Buffer.alloc(length);
    await file.read(tail, 0, length, size - length);
    for (let at = 0; at + 8 <= length; at++) {
      const frame = decodeFrame(tail, at);
      if (typeof frame === 'string' || frame.end !== length) continue;
      const last = frame.records.at(-1)!;
      if (last.kind === 'done') return 'completed';
      if (last.kind === 'rollback') return 'rolled back';
    }
    return 'interrupted';
  } finally {
    await file.close();
  }
}

/** `done` and `rollback` records are far shorter than this. */
const TAIL = 512;

/**
 * Whether applying the plan a second time changes the target again (SPEC §6.3): list append or
 * prepend and zset sum add what the first application added once more. Everything else lands on the
 * same value (override, skip, set and hash merge, list union, zset max/min/source/target).
 */
export function repeatsDouble(plan: MergePlan): string | undefined {
  const what: string[] = [];
  if (plan.strategies.list === 'merge' && plan.merge.list !== 'union') what.push(`list ${plan.merge.list}`);
  if (plan.strategies.zset === 'merge' && plan.merge.zsetScore === 'sum') what.push('zset sum');
  return what.length > 0 ? what.join(' and ') : undefined;
}

/** Bytes a journal spends on a key whose prior is small or absent (frame, record, key): measured ~59. */
export const JOURNAL_BYTES_PER_KEY = 64;

/**
 * Refuses (exit 2) when the journal's file system has not room for the run's journal: `keys` steps
 * (DBSIZE of the sources) at JOURNAL_BYTES_PER_KEY each, plus the prior values of the keys the
 * target already holds (`priorBytes`, from its dataset size).
 */
export async function checkJournalRoom(path: string, keys: number, priorBytes: number): Promise<void> {
  const dir = dirname(path);
  const fs = await statfs(dir).catch(() => undefined);
  if (!fs) return;
  const free = fs.bavail * fs.bsize;
  const need = keys * JOURNAL_BYTES_PER_KEY + priorBytes;
  if (need <= free) return;
  throw new ConfigError(
    '--backup',
    `the journal's disk (${dir}) has ${mib(free)} free and this run's journal needs about ${mib(need)} ` +
      `(${keys} keys in the sources); free some space, put the journal elsewhere (--backup FILE, or KVMERGE_STATE_DIR), ` +
      'or run without one (--no-backup)',
  );
}

const mib = (bytes: number): string =>
  bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
