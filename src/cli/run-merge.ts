import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../common/errors.js';
import { loadPlan } from '../config/load.js';
import type { MergePlan } from '../config/plan.js';
import { redactUrl } from '../config/url.js';
import { defaultStateDir } from '../journal/state-dir.js';
import { writeReportFile } from '../report/json.js';
import { formatSummary } from '../report/summary.js';
import type { JsonReport } from '../report/types.js';
import { planAnnouncer } from './announce.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { handleInterrupts, INTERRUPT_NOTICE, withSignal } from './interrupt.js';
import type { MergeFlags } from './options.js';
import type { Output } from './output.js';
import { watchRun } from './watch.js';

/**
 * `kvmerge merge`: flags → plan → run → report file → summary → exit code. Configuration errors,
 * unreachable servers and failed authentication surface as KvmergeErrors (exit 2) for main() to print.
 */
export async function mergeCommand(
  flags: MergeFlags,
  out: Output,
  argv: readonly string[] = [],
): Promise<number> {
  // Known before the plan exists, so that even a loader message cannot print these passwords.
  out.addUrls([
    ...(flags.overrides.source ?? []),
    ...(flags.overrides.target ? [flags.overrides.target] : []),
  ]);
  // The CLI journals into kvmerge's state directory unless told otherwise (SPEC §6.2); the library opts in.
  const loaded = await loadPlan(flags.overrides);
  const plan: MergePlan = { ...loaded, safety: { ...loaded.safety, stateDir: defaultStateDir() } };
  out.addUrls([...plan.sources.map((s) => s.url), plan.target.url]);
  if (plan.report.file !== undefined) await checkReportTarget(plan.report.file);
  if (flags.display.verbose) out.info(describePlan(plan));
  const announce = planAnnouncer(plan, out, 'merge');

  // Opened before any server is touched: a metrics port in use is exit 2 with nothing written.
  const watch = await watchRun(flags.display, out, {
    command: 'merge',
    sources: plan.sources.map((s) => s.name),
    dryRun: plan.dryRun,
    follow: plan.follow !== undefined,
  });
  const { progress, mode } = watch;
  const interrupt = handleInterrupts({
    onFirst: () => {
      // The terminal echoed ^C onto the bars; the notice starts on a line of its own.
      if (mode === 'bars') process.stderr.write('\n');
      out.error(INTERRUPT_NOTICE);
    },
    onForce: () => {
      watch.stopDrawing();
      out.error('interrupted again: exiting now; batches in flight may or may not have been written');
    },
  });
  let raw: JsonReport;
  try {
    // The engine (ioredis and the pipeline) is loaded only now: --help and usage errors stay fast.
    const { runMerge } = await import('../index.js');
    raw = await runMerge(plan, {
      progress: announce.progress(progress),
      signal: interrupt.signal,
      log: announce.log,
      // Into the journal's header (passwords masked), for the resume command `kvmerge status` gives.
      command: argv.map((arg) => out.redact(arg)),
      events: watch.events,
      followStatus: (status) => watch.followStatus(status),
    });
  } finally {
    progress.stop();
    interrupt.dispose();
    await watch.close();
  }
  announce.now();
  const report = out.redactDeep(raw);

  let code = withSignal(exitCodeFor(report, plan), interrupt);
  if (plan.report.file !== undefined) {
    try {
      await writeReportFile(plan.report.file, report);
      if (flags.display.verbose) out.info(`report written to ${plan.report.file}`);
    } catch (err) {
      out.error(`could not write the report to ${plan.report.file}: ${(err as Error).message}`);
      if (code === EXIT.done || code === EXIT.conflicts) code = EXIT.failed;
    }
  }

  if (flags.display.json) out.result(JSON.stringify(report, null, 2));
  else if (!flags.display.quiet) out.result(formatSummary(report, { color: out.stdoutIsColorTty() }));
  explainExit(report, code, out);
  // The last line of --progress-json, with the report's totals.
  watch.done({
    totals: report.totals,
    outcome: report.outcome,
    durationMs: report.durationMs,
    exitCode: code,
    ...(report.follow ? { follow: report.follow } : {}),
  });
  return code;
}

/** One line on stderr when the exit code is not 0, so that a log or a CI job says why. */
function explainExit(report: JsonReport, code: number, out: Output): void {
  if (code === EXIT.conflicts) {
    const n = report.conflicts.total;
    out.error(
      `${n} ${n === 1 ? 'key' : 'keys'} would conflict (--fail-on-conflict); see the conflict report`,
    );
  } else if (report.outcome === 'failed') {
    const why = report.error ?? 'see the summary';
    out.error(`the run failed part-way: ${why}; the summary says what was and was not done`);
  } else if (report.outcome === 'interrupted') {
    out.error('interrupted; the summary says what was done before the run stopped');
  }
}

/**
 * Fails before any connection when the report could not be written at the end: better than a whole run
 * whose report is lost to a typo in the directory name.
 */
async function checkReportTarget(file: string): Promise<void> {
  const dir = dirname(resolve(file));
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    await access(dir, fsConstants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such directory'
        : code === 'EACCES'
          ? 'directory not writable'
          : (code ?? (err as Error).message);
    throw new ConfigError(
      '--report',
      `cannot write ${file} (${why}); create the directory or pick another path`,
    );
  }
}

function describePlan(plan: MergePlan): string {
  const s = plan.strategies;
  const strategies = `string ${s.string}, hash ${s.hash}, set ${s.set}, zset ${s.zset}, list ${s.list}, stream ${s.stream}`;
  const sources = plan.sources.map((src) => `${src.name} (${redactUrl(src.url)})`).join(', ');
  return (
    `kvmerge: ${plan.dryRun ? 'dry run' : 'merge'} of ${sources} into ${redactUrl(plan.target.url)}; ` +
    `${strategies}, type mismatch ${s.typeMismatch}; mode ${plan.write.mode}, ` +
    `concurrency ${plan.write.concurrency}, batch ${plan.write.batchSize}; on error ${plan.safety.onError}` +
    (plan.safety.failedKeys ? ` (failed keys to ${plan.safety.failedKeys})` : '')
  );
}
