import type { Outcome } from './contenders.js';

/*
 * One table per run: a plain one for the terminal and a markdown one for the README. Every contender
 * moves the same keys and the same payload bytes, so keys/s, MB/s and 1 / wall time rank them alike,
 * and a ratio is the row's throughput over the reference's (above 1: faster than the reference).
 */

/** A row: a contender's outcome (the RDB bench has rows of its own, named outside ContenderName). */
export type Row = Omit<Outcome, 'name' | 'notes'> & { name: string };

/** A ratio column: each row's keys/s over those of the row named `name`. */
export interface Reference {
  header: string;
  name: string;
}

const REFERENCES: readonly Reference[] = [
  { header: '× MIGRATE', name: 'migrate' },
  { header: '× ceiling', name: 'ceiling' },
];

const COLUMNS = ['contender', 'keys', 'MB', 'wall s', 'keys/s', 'MB/s', 'peak RSS'];

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function rate(o: Row): number | undefined {
  return o.error || o.wallMs <= 0 ? undefined : o.keys / (o.wallMs / 1000);
}

function ratio(o: Row, reference: Row | undefined): string {
  const mine = rate(o);
  const theirs = reference && rate(reference);
  return mine === undefined || theirs === undefined ? '—' : `${(mine / theirs).toFixed(2)}×`;
}

function rss(o: Row): string {
  if (o.peakRssKb === undefined) return '—';
  return `${int.format(o.peakRssKb / 1024)} MiB${o.rssOf && o.rssOf !== 'kvmerge' ? ` (${o.rssOf})` : ''}`;
}

function rows(outcomes: readonly Row[], refs: readonly Reference[]): string[][] {
  const references = refs.map((r) => outcomes.find((o) => o.name === r.name));
  return outcomes.map((o) => {
    const perSecond = rate(o);
    if (perSecond === undefined) {
      return [
        o.label,
        int.format(o.keys),
        (o.bytes / 1e6).toFixed(1),
        'FAILED',
        '—',
        '—',
        '—',
        ...refs.map(() => '—'),
      ];
    }
    const seconds = o.wallMs / 1000;
    return [
      o.label,
      int.format(o.keys),
      (o.bytes / 1e6).toFixed(1),
      seconds.toFixed(2),
      perSecond >= 100 ? int.format(perSecond) : perSecond.toPrecision(3),
      (o.bytes / 1e6 / seconds).toFixed(1),
      rss(o),
      ...references.map((r) => ratio(o, r)),
    ];
  });
}

export function textTable(outcomes: readonly Row[], refs: readonly Reference[] = REFERENCES): string {
  const headers = [...COLUMNS, ...refs.map((r) => r.header)];
  const body = rows(outcomes, refs);
  const all = [headers, ...body];
  const widths = headers.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  // Every column but the first holds a number.
  const line = (r: string[]): string =>
    r.map((cell, c) => (c > 0 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function markdownTable(outcomes: readonly Row[], refs: readonly Reference[] = REFERENCES): string {
  const headers = [...COLUMNS, ...refs.map((r) => r.header)];
  const line = (r: string[]): string => `| ${r.join(' | ')} |`;
  const rule = `|${headers.map((_, c) => (c > 0 ? '---:' : ':---')).join('|')}|`;
  return [line(headers), rule, ...rows(outcomes, refs).map(line)].join('\n');
}
