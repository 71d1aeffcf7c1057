import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { journalHolder } from '../journal/lock.js';
import { readHeader, readRecords, type ScanEnd } from '../journal/reader.js';
import { defaultStateDir, journalStatus } from '../journal/state-dir.js';
import {
  formatListing,
  formatSummary,
  type JournalSummary,
  type ListedRun,
  listedRun,
  SummaryFold,
} from '../journal/summary.js';
import { EXIT } from './exit-codes.js';
import type { Output } from './output.js';
import type { StatusFlags } from './status-options.js';

/**
 * `kvmerge status [--backup FILE] [--json]` (SPEC §11): what a journal says, or the runs journaled in
 * the state directory, from the files alone; it never connects to a server nor takes a journal's lock.
 * A file that is not a readable journal is exit 2, in one line (with --json, main prints it as
 * {"error","exitCode"} on stdout, as for every command).
 */
export async function statusCommand(flags: StatusFlags, out: Output): Promise<number> {
  if (flags.backup !== undefined) {
    const summary = await summarizeJournal(resolve(flags.backup));
    out.result(flags.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
    return EXIT.done;
  }
  const dir = defaultStateDir();
  const { runs, unreadable } = await listRuns(dir);
  out.result(
    flags.json
      ? JSON.stringify({ stateDir: dir, runs, unreadable }, null, 2)
      : formatListing(dir, runs, unreadable),
  );
  return EXIT.done;
}

/** Reads the whole journal (the applied steps are counted) and its lock; touches nothing. */
async function summarizeJournal(path: string): Promise<JournalSummary> {
  const header = await readHeader(path);
  const fold = new SummaryFold(header);
  const end: ScanEnd = { validBytes: 0, torn: false };
  for await (const record of readRecords(path, end)) fold.add(record);
  return fold.finish(path, { holder: await journalHolder(path), torn: end.torn });
}

/**
 * The `.journal` files of the state directory, oldest run first, each from its header and its last
 * record (state-dir.ts journalStatus): a listing does not read whole journals, which can be gigabytes.
 */
async function listRuns(
  dir: string,
): Promise<{ runs: ListedRun[]; unreadable: { journal: string; error: string }[] }> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const runs: ListedRun[] = [];
  const unreadable: { journal: string; error: string }[] = [];
  for (const name of names.filter((n) => n.endsWith('.journal')).sort()) {
    const path = join(dir, name);
    try {
      const header = await readHeader(path);
      runs.push(listedRun(path, header, await journalStatus(path), await journalHolder(path)));
    } catch (err) {
      // One damaged file does not hide the other runs: it is listed as unreadable, with why.
      unreadable.push({ journal: path, error: (err as Error).message });
    }
  }
  runs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return { runs, unreadable };
}
