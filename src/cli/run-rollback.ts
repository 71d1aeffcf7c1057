import { describeKey, rollback } from '../index.js';
import { EXIT } from './exit-codes.js';
import { handleInterrupts, INTERRUPT_NOTICE } from './interrupt.js';
import type { Output } from './output.js';
import type { RollbackFlags } from './rollback-options.js';

/** How often a plain progress line is printed. */
const PROGRESS_EVERY_MS = 2000;

/**
 * `kvmerge rollback --backup FILE [-t URL] [--dry-run]`: the library's rollback, with a status line
 * every few seconds, the keys it would restore (dry run, --verbose) and a summary.
 */
export async function rollbackCommand(flags: RollbackFlags, out: Output): Promise<number> {
  const interrupt = handleInterrupts({ onFirst: () => out.error(INTERRUPT_NOTICE) });
  let lastLine = Date.now();
  const verb = flags.dryRun ? 'to restore' : 'restored';
  try {
    const tls = { ...flags.tls };
    for (const k of ['ca', 'cert', 'key'] as const) if (tls[k] === undefined) delete tls[k];
    const report = await rollback(
      {
        backup: flags.backup,
        ...(flags.target !== undefined ? { target: flags.target } : {}),
        tls,
        dryRun: flags.dryRun,
        ...(flags.passwords?.target ? { password: flags.passwords.target } : {}),
        ...(flags.passwords?.fallback ? { fallbackPassword: flags.passwords.fallback } : {}),
      },
      {
        signal: interrupt.signal,
        progress: (done) => {
          if (flags.display.quiet || Date.now() - lastLine < PROGRESS_EVERY_MS) return;
          lastLine = Date.now();
          out.info(`rollback: ${done} key(s) ${verb}`);
        },
        planned: flags.dryRun
          ? ({ key, prior }) =>
              out.info(`${prior.kind === 'absent' ? 'delete ' : 'restore'} ${describeKey(key)}`)
          : undefined,
      },
    );
    if (flags.display.json) out.result(JSON.stringify(report, null, 2));
    else if (!flags.display.quiet) {
      const seconds = report.durationMs / 1000;
      const rate = seconds > 0 ? Math.round(report.keys / seconds) : report.keys;
      out.result(
        `${flags.dryRun ? 'Rollback dry run' : 'Rollback'} of run ${report.runId} on ${report.target}:\n` +
          `  keys ${verb}: ${report.keys} (${report.restored} to their prior value, ${report.deleted} the run created deleted)\n` +
          `  temporary keys ${flags.dryRun ? 'to remove' : 'removed'}: ${report.tempKeys}\n` +
          `  ${seconds.toFixed(1)} s, ${rate} keys/s${report.outcome === 'interrupted' ? ' (interrupted: run it again to finish)' : ''}`,
      );
    }
    return report.outcome === 'interrupted' ? interrupt.exitCode : EXIT.done;
  } finally {
    interrupt.dispose();
  }
}
