import type { CountedType, Counts } from './counters.js';
import { COUNTED_TYPES } from './tally.js';
import type { FallbackSample, JsonReport, RunOutcome } from './types.js';

const COLUMNS: { title: string; field: keyof Counts }[] = [
  { title: 'scanned', field: 'scanned' },
  { title: 'created', field: 'created' },
  { title: 'overridden', field: 'overridden' },
  { title: 'merged', field: 'merged' },
  { title: 'skipped', field: 'skipped' },
  { title: 'expired', field: 'expired' },
  { title: 'failed', field: 'failed' },
  { title: 'mismatch', field: 'typeMismatch' },
  { title: 'overlap', field: 'sourceOverlap' },
];

const GAP = '  ';
/** Keys named per fallback reason in the summary; the JSON report lists up to `report.sample`. */
const SUMMARY_FALLBACK_KEYS = 3;
/** Failed keys the summary names; the report and --failed-keys have more. */
const FAILED_SHOWN = 5;

/**
 * The human summary of SPEC §5.2, rendered from the JSON report so that what the operator reads and
 * what a script reads cannot disagree. Plain text unless `color` is set (the CLI sets it for a TTY).
 */
export function formatSummary(report: JsonReport, opts: { color?: boolean } = {}): string {
  const paint = opts.color ? ansi : plain;
  const lines: string[] = [];

  const mode = report.dryRun ? 'DRY RUN' : 'MERGE';
  const note = report.dryRun ? ' (nothing was written; the counts are what a merge would do)' : '';
  lines.push(
    `${paint.bold(mode)} into ${report.target.url}: ${paint[OUTCOME_COLOR[report.outcome]](report.outcome)}${note}`,
  );
  if (report.error !== undefined) lines.push(`${paint.red('error:')} ${report.error}`);
  if (report.sources.length > 0) {
    lines.push(`sources: ${report.sources.map((s) => `${s.name} ${groupDigits(s.scanned)}`).join(', ')}`);
  }
  lines.push('');
  lines.push(...formatTable(report, paint));
  lines.push('');

  lines.push(`conflicts: ${groupDigits(report.conflicts.total)}`);
  if (report.fallbacks.length > 0) {
    lines.push('fallbacks to native writes:');
    for (const f of report.fallbacks) {
      const named = f.sample.slice(0, SUMMARY_FALLBACK_KEYS).map(sampleKey);
      const more = f.keys > named.length ? ', …' : '';
      const eg =
        named.length > 0 ? ` (${f.keys > named.length ? 'e.g. ' : ''}${named.join(', ')}${more})` : '';
      lines.push(`  ${f.reason}: ${groupDigits(f.keys)} ${f.keys === 1 ? 'key' : 'keys'}${eg}`);
    }
  }
  const failed = report.failedKeys ?? [];
  if (failed.length > 0) {
    const shown = failed.slice(0, FAILED_SHOWN);
    const more = report.totals.failed - shown.length;
    lines.push(
      `failed keys${more > 0 ? ` (first ${shown.length} of ${groupDigits(report.totals.failed)})` : ''}:`,
    );
    for (const f of shown) {
      const key = f.key !== undefined ? JSON.stringify(f.key) : `base64:${f.keyBase64}`;
      lines.push(`  ${key} from ${f.source}: ${f.reason}`);
    }
    if (more > 0) lines.push('  (all of them: --failed-keys FILE)');
  }
  const rate = keysPerSecond(report.totals.scanned, report.durationMs);
  lines.push(`duration: ${formatDuration(report.durationMs)}, ${groupDigits(rate)} keys/s`);
  if (report.journal !== undefined) {
    lines.push(`journal: ${report.journal} (undo with: kvmerge rollback --backup ${report.journal})`);
  }
  return `${lines.join('\n')}\n`;
}

function formatTable(report: JsonReport, paint: Paint): string[] {
  const rows: { label: string; counts: Counts }[] = [];
  for (const type of COUNTED_TYPES) {
    const counts = report.byType[type];
    if (counts) rows.push({ label: typeLabel(type), counts });
  }
  rows.push({ label: 'total', counts: report.totals });

  const header = ['type', ...COLUMNS.map((c) => c.title)];
  const cells = rows.map((r) => [r.label, ...COLUMNS.map((c) => groupDigits(r.counts[c.field]))]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));

  // Padding is computed on the plain text, then colour is applied, so escapes never break alignment.
  const render = (row: string[], style: (s: string, col: number) => string) =>
    row
      .map((cell, i) => style(i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!), i))
      .join(GAP)
      .trimEnd();

  const out = [render(header, (s) => paint.bold(s))];
  rows.forEach((row, r) => {
    const isTotal = r === rows.length - 1;
    out.push(
      render(cells[r]!, (s, col) => {
        const failed = col > 0 && COLUMNS[col - 1]!.field === 'failed' && row.counts.failed > 0;
        const styled = failed ? paint.red(s) : s;
        return isTotal ? paint.bold(styled) : styled;
      }),
    );
  });
  return out;
}

/** A sampled key for a line of text: quoted when valid UTF-8, base64 otherwise. */
function sampleKey(s: FallbackSample): string {
  return s.key !== undefined ? JSON.stringify(s.key) : `base64:${s.keyBase64 ?? ''}`;
}

function typeLabel(type: CountedType): string {
  // `none` is a key that vanished before its type could be read; say so rather than print a bare word.
  return type === 'none' ? 'none (gone)' : type;
}

function keysPerSecond(keys: number, ms: number): number {
  return ms > 0 ? Math.round((keys * 1000) / ms) : 0;
}

/** 1234567 → "1,234,567": independent of the locale, so output is the same on every machine. */
export function groupDigits(n: number): string {
  const s = String(Math.round(n));
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A duration for humans: "850ms", "12.3s", "4m 05s", "2h 03m 09s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m ${s}s` : `${m}m ${s}s`;
}

type Style = 'bold' | 'red' | 'green' | 'yellow';
type Paint = Record<Style, (s: string) => string>;

const OUTCOME_COLOR: Record<RunOutcome, Style> = { done: 'green', failed: 'red', interrupted: 'yellow' };

const plain: Paint = { bold: (s) => s, red: (s) => s, green: (s) => s, yellow: (s) => s };

const ansi: Paint = {
  bold: (s) => `\x1b[1m${s}\x1b[22m`,
  red: (s) => `\x1b[31m${s}\x1b[39m`,
  green: (s) => `\x1b[32m${s}\x1b[39m`,
  yellow: (s) => `\x1b[33m${s}\x1b[39m`,
};
