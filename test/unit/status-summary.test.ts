/**
 * `kvmerge status`'s reading of a journal (src/journal/summary.ts): how a run stands from its records,
 * and the exact commands that resume or undo it, for journals with and without the plan and command
 * line in their header (kvmerge 0.1.0 wrote neither).
 */
import { describe, expect, it } from 'vitest';
import {
  formatListing,
  formatSummary,
  listedRun,
  resumeCommand,
  SummaryFold,
  shellWord,
} from '../../src/journal/summary.js';
import type { JournalHeader, JournalRecord } from '../../src/journal/types.js';

const OLD_HEADER: JournalHeader = {
  kind: 'header',
  format: 2,
  tool: 'kvmerge',
  version: '0.1.0',
  target: 'redis://127.0.0.1:7002/0',
  planDigest: 'ab'.repeat(32),
  runId: 'run-1',
  startedAt: '2026-12-06T10:00:00.000Z',
};

const PLAN = {
  sources: [
    { name: 'a', url: 'redis://:***@10.0.0.1:6379/0' },
    { name: 'b', url: 'redis://10.0.0.2:6379/0', match: 'user:*', prefix: 'b:' },
  ],
  strategies: {
    string: 'override',
    hash: 'merge',
    set: 'merge',
    zset: 'skip',
    list: 'merge',
    stream: 'skip',
    other: 'override',
    typeMismatch: 'skip',
  },
  merge: { hashField: 'source', zsetScore: 'max', list: 'union', ttl: 'max' },
};

const HEADER: JournalHeader = {
  ...OLD_HEADER,
  plan: PLAN,
  command: ['-c', 'merge.yaml', '-s', 'redis://:***@10.0.0.1:6379', '--backup', 'old.journal', '--again'],
};

const key = (k: string): Buffer => Buffer.from(k);
const beforeRec = (source: number, k: string): JournalRecord => ({
  kind: 'before',
  source,
  key: key(k),
  type: 'string',
  prior: { kind: 'absent' },
});
const applied = (source: number, ...keys: string[]): JournalRecord => ({
  kind: 'applied',
  source,
  steps: keys.map((k): [Buffer, string] => [key(k), 'string']),
});

function fold(header: JournalHeader, records: JournalRecord[]) {
  const f = new SummaryFold(header);
  for (const r of records) f.add(r);
  return f;
}

describe('SummaryFold', () => {
  it('a completed run: every source finished, its applied steps counted, undo offered, no resume', () => {
    const s = fold(HEADER, [
      beforeRec(0, 'x'),
      beforeRec(0, 'y'),
      applied(0, 'x', 'y'),
      { kind: 'sourceDone', source: 0 },
      beforeRec(1, 'z'),
      applied(1, 'z'),
      { kind: 'sourceDone', source: 1 },
      { kind: 'done', at: '2026-12-06T10:01:00.000Z' },
    ]).finish('/j/run.journal', { torn: false });
    expect(s.state).toBe('completed');
    expect(s.completedAt).toBe('2026-12-06T10:01:00.000Z');
    expect(s.keysApplied).toBe(3);
    expect(s.keysJournaled).toBe(3);
    expect(s.sources.map((x) => [x.name, x.finished])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    expect(s.resume).toBeUndefined();
    expect(s.rollback).toBe('kvmerge rollback --backup /j/run.journal');
  });

  it("an interrupted run: resumed with the run's own command line, its journal options replaced", () => {
    const s = fold(HEADER, [beforeRec(0, 'x'), applied(0, 'x'), beforeRec(0, 'y')]).finish('/j/run.journal', {
      torn: true,
    });
    expect(s.state).toBe('interrupted');
    expect(s.torn).toBe(true);
    expect(s.sources.map((x) => x.finished)).toEqual([false, false]);
    expect(s.keysApplied).toBe(1);
    expect(s.keysJournaled).toBe(2);
    expect(s.resume).toBe(
      "kvmerge merge -c merge.yaml -s 'redis://:***@10.0.0.1:6379' --backup /j/run.journal --resume",
    );
    expect(s.rollback).toBe('kvmerge rollback --backup /j/run.journal');
    expect(s.notes.join(' ')).toContain('put each one back where *** stands');
  });

  it('a rollback record makes it rolled back: no resume, the rollback (safe to repeat) offered', () => {
    const s = fold(HEADER, [
      beforeRec(0, 'x'),
      applied(0, 'x'),
      { kind: 'rollback', at: '2026-12-06T11:00:00.000Z' },
    ]).finish('/j/r.journal', { torn: false });
    expect(s.state).toBe('rolled back');
    expect(s.rollbackAt).toBe('2026-12-06T11:00:00.000Z');
    expect(s.resume).toBeUndefined();
    expect(s.rollback).toBe('kvmerge rollback --backup /j/r.journal');
    expect(formatSummary(s)).toMatch(/^finish {5}kvmerge rollback --backup \/j\/r\.journal$/m);
  });

  it('a live lock holder makes it running: no command offered while it is at work', () => {
    const holder = { pid: 4242, host: 'h1', since: '2026-12-06T10:00:01.000Z' };
    const s = fold(HEADER, [beforeRec(0, 'x')]).finish('/j/r.journal', { holder, torn: false });
    expect(s.state).toBe('running');
    expect(s.holder).toEqual(holder);
    expect(s.resume).toBeUndefined();
    expect(s.rollback).toBeUndefined();
    expect(formatSummary(s)).toContain('running: pid 4242 on h1');
  });

  it('a kvmerge 0.1.0 journal (no plan, no command): sources from the records, a placeholder resume', () => {
    const s = fold(OLD_HEADER, [
      beforeRec(0, 'x'),
      applied(0, 'x'),
      { kind: 'sourceDone', source: 0 },
      beforeRec(1, 'y'),
    ]).finish('/j/old.journal', { torn: false });
    expect(s.plan).toBeUndefined();
    expect(s.sources).toEqual([
      { index: 0, finished: true },
      { index: 1, finished: false },
    ]);
    expect(s.resume).toBe("kvmerge merge <the run's options> --backup /j/old.journal --resume");
    expect(s.notes.join(' ')).toContain('does not record its plan');
    expect(formatSummary(s)).toContain('plan       not recorded');
  });
});

describe('resumeCommand', () => {
  it('drops --backup=FILE, --resume and --no-backup, and adds merge when the command was implicit', () => {
    const header = { ...HEADER, command: ['merge', '--backup=a.journal', '-t', 'redis://h:1', '--resume'] };
    expect(resumeCommand(header, '/x.journal')).toBe(
      'kvmerge merge -t redis://h:1 --backup /x.journal --resume',
    );
  });

  it("without the command line, the plan's sources, target and strategies as flags", () => {
    const { command: _omitted, ...header } = HEADER;
    expect(resumeCommand(header, '/x.journal')).toBe(
      "kvmerge merge -s 'redis://:***@10.0.0.1:6379/0' -s redis://10.0.0.2:6379/0 -t redis://127.0.0.1:7002/0 " +
        '--string override --hash merge --set merge --zset skip --list merge --stream skip --type-mismatch skip ' +
        '--backup /x.journal --resume',
    );
  });

  it('quotes a word the shell would split or expand', () => {
    expect(shellWord("it's here")).toBe(`'it'\\''s here'`);
    expect(shellWord('/plain/path.journal')).toBe('/plain/path.journal');
  });
});

describe('the listing', () => {
  it('says when the state directory holds no run', () => {
    expect(formatListing('/s', [], [])).toBe('no runs journaled in /s');
  });

  it('a run per line, oldest first as given; a lock holder shows it running; unreadable files named', () => {
    const done = listedRun('/s/a.journal', HEADER, 'completed', undefined);
    const live = listedRun(
      '/s/b.journal',
      { ...HEADER, startedAt: '2026-12-06T12:00:00.000Z' },
      'interrupted',
      {
        pid: 7,
        host: 'h',
        since: 'now',
      },
    );
    expect(done.sources).toEqual(['a', 'b']);
    expect(live.state).toBe('running');
    const text = formatListing('/s', [done, live], [{ journal: '/s/c.journal', error: 'not a journal' }]);
    expect(text).toContain('completed    a, b -> redis://127.0.0.1:7002/0');
    expect(text).toContain('running (pid 7)');
    expect(text).toContain('unreadable: not a journal');
  });
});
