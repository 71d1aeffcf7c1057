import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { StrategyTable } from '../types/strategy.js';
import type { Tally } from './tally.js';
import type { JsonReport, RunOutcome } from './types.js';

export interface ReportArgs {
  version: string;
  dryRun: boolean;
  startedAt: Date;
  durationMs: number;
  /** Already redacted by the caller (SPEC §4: no password in any output). */
  targetUrl: string;
  /** URLs already redacted by the caller. */
  sources: { name: string; url: string }[];
  strategies: StrategyTable;
  tally: Tally;
  outcome: RunOutcome;
  error?: string;
}

/**
 * The JSON report of SPEC §5.3, built from the tally. It is the single input of the summary table,
 * the `--json` output and the `--report` file, so all three always agree.
 */
export function buildReport(args: ReportArgs): JsonReport {
  const { tally } = args;
  const report: JsonReport = {
    tool: 'kvmerge',
    version: args.version,
    dryRun: args.dryRun,
    startedAt: args.startedAt.toISOString(),
    durationMs: Math.max(0, Math.round(args.durationMs)),
    target: { url: args.targetUrl },
    sources: args.sources.map((s, i) => ({ name: s.name, url: s.url, scanned: tally.sourceScanned(i) })),
    strategies: { ...args.strategies },
    totals: tally.totals(),
    byType: tally.byType(),
    conflicts: tally.conflicts(),
    fallbacks: tally.fallbacks(),
    outcome: args.outcome,
  };
  const failed = tally.failedKeys();
  if (failed.length > 0) report.failedKeys = failed;
  if (args.error !== undefined) report.error = args.error;
  return report;
}

/**
 * Writes the report as pretty JSON. A temporary file in the same directory is written, flushed and
 * renamed over `path`, so a reader (or a crash) never sees a half-written report and an earlier
 * report stays intact until the new one is complete.
 */
export async function writeReportFile(path: string, report: JsonReport): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const text = `${JSON.stringify(report, null, 2)}\n`;
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
