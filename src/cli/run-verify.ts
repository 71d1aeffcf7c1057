import { writeFile } from 'node:fs/promises';
import {
  ConfigError,
  type Difference,
  isPlanOf,
  type JournaledKey,
  journalTargetIs,
  loadPlan,
  type MergePlan,
  openJournal,
  openWindows,
  redactUrl,
  type VerifyReport,
  verify,
} from '../index.js';
import { planAnnouncer } from './announce.js';
import { EXIT } from './exit-codes.js';
import { handleInterrupts, INTERRUPT_NOTICE } from './interrupt.js';
import type { VerifyFlags } from './options.js';
import type { Output } from './output.js';
import { watchRun } from './watch.js';

/**
 * `kvmerge verify` (SPEC §6.5): flags → plan → verify → each difference on stdout as it is found
 * (`key: expected …; found …`), the report file, a summary line on stderr → exit code: 0 equal,
 * 1 any difference, 2 configuration or connection errors (thrown as KvmergeErrors), 130 interrupted.
 */
export async function verifyCommand(
  flags: VerifyFlags,
  out: Output,
  statusEveryMs = STATUS_EVERY_MS,
): Promise<number> {
  out.addUrls([
    ...(flags.overrides.source ?? []),
    ...(flags.overrides.target ? [flags.overrides.target] : []),
  ]);
  const plan = await loadPlan(flags.overrides);
  out.addUrls([...plan.sources.map((s) => s.url), plan.target.url]);
  const announce = planAnnouncer(plan, out, 'verify');
  // The journal: --backup, or the config file's safety.backup (the merge's option, SPEC §3.1).
  const backup = flags.backup ?? (plan.safety as { backup?: string }).backup;
  const journal = backup ? await journalPriors(backup, plan) : undefined;

  // Opened before any server is touched: a metrics port in use is exit 2 with nothing read.
  const watch = await watchRun(flags.display, out, {
    command: 'verify',
    sources: plan.sources.map((s) => s.name),
  });
  const interrupt = handleInterrupts({ onFirst: () => out.error(INTERRUPT_NOTICE) });
  // A status line every few seconds on stderr (SPEC §5.1's plain mode), so a long check shows life.
  let lastStatus = Date.now();
  let raw: VerifyReport;
  try {
    raw = await verify(
      plan,
      { priors: journal?.priors, windows: journal?.windows.read, sample: flags.sample },
      {
        signal: interrupt.signal,
        log: announce.log,
        events: watch.events,
        progress: (checked, differences) => {
          watch.checked(checked, differences);
          // Not turned off by --no-progress: that flag trades bars for these lines, and verify has no bars.
          if (Date.now() - lastStatus < statusEveryMs) return;
          lastStatus = Date.now();
          announce.now();
          out.info(`verify: ${checked} keys checked, ${differences} differences so far`);
        },
        onDifference: (d) => {
          if (!flags.display.json) out.result(out.redact(differenceLine(d)));
        },
      },
    );
  } finally {
    interrupt.dispose();
    await journal?.windows.close();
    await watch.close();
  }
  const report = out.redactDeep(raw);
  let code =
    report.outcome === 'interrupted' ? interrupt.exitCode : report.differences > 0 ? EXIT.failed : EXIT.done;
  if (plan.report.file !== undefined) {
    try {
      await writeFile(plan.report.file, `${JSON.stringify(report, null, 2)}\n`);
    } catch (err) {
      out.error(`could not write the report to ${plan.report.file}: ${(err as Error).message}`);
      code = code === EXIT.done ? EXIT.failed : code;
    }
  }
  if (flags.display.json) out.result(JSON.stringify(report, null, 2));
  announce.now();
  out.info(summaryLine(report));
  if (report.differences > 0) {
    out.error(
      `${report.differences} ${report.differences === 1 ? 'key differs' : 'keys differ'} from what the merge should have left (listed above)`,
    );
  }
  watch.done({
    done: report.checked,
    total: report.checked,
    checked: report.checked,
    differences: report.differences,
    outcome: report.outcome,
    durationMs: report.durationMs,
    exitCode: code,
  });
  return code;
}

const STATUS_EVERY_MS = 5_000;

/** One difference, one line: the key (text, or b64: when not UTF-8), what was expected, what was found. */
export function differenceLine(d: Difference): string {
  const key = d.key !== undefined ? JSON.stringify(d.key) : `b64:${d.keyBase64}`;
  return `${key}: expected ${d.expected}; found ${d.found}`;
}

function summaryLine(r: VerifyReport): string {
  const seconds = r.durationMs / 1000;
  const rate = seconds > 0 ? Math.round(r.checked / seconds) : r.checked;
  const what = r.sample !== undefined ? `a sample of ${r.checked} keys` : `${r.checked} keys`;
  const how =
    r.mode === 'journal'
      ? `, ${r.exact} of them exactly against the journal's prior state,`
      : ' without a journal (what holds whatever the prior state was)';
  const unused = r.priorsUnused.map(
    (u) => `; ${u.keys} journaled keys checked without their prior (${u.reason})`,
  );
  const outcome = r.outcome === 'interrupted' ? 'interrupted' : `${r.differences} differences`;
  return `verified ${what}${how} in ${seconds.toFixed(1)} s (${rate} keys/s): ${outcome}${unused.join('')}`;
}

/**
 * The journal's priors (`--backup FILE`). A journal of another target or of another plan is refused
 * (exit 2): its priors would be folded with other sources or strategies, and every key would differ.
 */
async function journalPriors(
  file: string,
  plan: MergePlan,
): Promise<{ priors: AsyncIterable<JournaledKey>; windows: Awaited<ReturnType<typeof openWindows>> }> {
  const journal = await openJournal(file);
  const { header } = journal;
  if (!journalTargetIs(header, plan.target.url)) {
    throw new ConfigError(
      '--backup',
      `${file} is the journal of a run into ${header.target}, not ${redactUrl(plan.target.url)}; give the journal of this target`,
    );
  }
  if (!isPlanOf(header, plan)) {
    throw new ConfigError(
      '--backup',
      `${file} records a run with other sources, strategies or merge options; verify with that run's configuration, or without --backup`,
    );
  }
  return { priors: journal.firstPriors(), windows: await openWindows(file) };
}
