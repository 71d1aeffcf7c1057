import type { Outcome } from './contenders.js';

/*
 * One table per run: a plain one for the terminal and a markdown one for the README. Every contender
 * moves the same keys and the same payload bytes, so keys/s, MB/s and 1 / wall time rank them alike,
 * and a ratio is the row's throughput over the reference's (above 1: faster than the reference).
 */

const HEADERS = ['contender', 'keys', 'MB', 'wall s', 'keys/s', 'MB/s', 'peak RSS', '× MIGRATE', '× ceiling'];
const RIGHT = [false, true, true, true, true, true, true, true, true];

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function rate(o: Outcome): number | undefined {
  return o.error || o.wallMs <= 0 ? undefined : o.keys / (o.wallMs / 1000);
}

function ratio(o: Outcome, reference: Outcome | undefined): string {
  const mine = rate(o);
  const theirs = reference && rate(reference);
  return mine === undefined || theirs === undefined ? '—' : `${(mine / theirs).toFixed(2)}×`;
}

function rss(o: Outcome): string {
  if (o.peakRssKb === undefined) return '—';
  return `${int.format(o.peakRssKb / 1024)} MiB${o.rssOf && o.rssOf !== 'kvmerge' ? ` (${o.rssOf})` : ''}`;
}

function rows(outcomes: readonly Outcome[]): string[][] {
  const migrate = outcomes.find((o) => o.name === 'migrate');
  const ceiling = outcomes.find((o) => o.name === 'ceiling');
  return outcomes.map((o) => {
    const perSecond = rate(o);
    if (perSecond === undefined) {
      return [o.label, int.format(o.keys), (o.bytes / 1e6).toFixed(1), 'FAILED', '—', '—', '—', '—', '—'];
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
      ratio(o, migrate),
      ratio(o, ceiling),
    ];
  });
}

export function textTable(outcomes: readonly Outcome[]): string {
  const all = [HEADERS, ...rows(outcomes)];
  const widths = HEADERS.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]): string =>
    r.map((cell, c) => (RIGHT[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ');
  return [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('  '), ...rows(outcomes).map(line)].join('\n');
}

export function markdownTable(outcomes: readonly Outcome[]): string {
  const line = (r: string[]): string => `| ${r.join(' | ')} |`;
  const rule = `|${RIGHT.map((right) => (right ? '---:' : ':---')).join('|')}|`;
  return [line(HEADERS), rule, ...rows(outcomes).map(line)].join('\n');
}
