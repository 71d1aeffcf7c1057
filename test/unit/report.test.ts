import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CountedType, type Counts, emptyCounts } from '../../src/report/counters.js';
import { failedKeyLine } from '../../src/report/failed-keys.js';
import { buildReport, writeReportFile } from '../../src/report/json.js';
import { createProgress } from '../../src/report/progress.js';
import { formatSummary } from '../../src/report/summary.js';
import { Tally } from '../../src/report/tally.js';
import type { JsonReport, KeyOutcome } from '../../src/report/types.js';
import type { Action, DataType, StrategyTable } from '../../src/types/strategy.js';

const STRATEGIES: StrategyTable = {
  string: 'override',
  hash: 'merge',
  set: 'merge',
  zset: 'merge',
  list: 'skip',
  stream: 'skip',
  other: 'skip',
  typeMismatch: 'skip',
};

function outcome(
  over: Partial<KeyOutcome> & { action?: Action; conflict?: boolean; mismatch?: boolean },
): KeyOutcome {
  const { action = 'create', conflict = false, mismatch = false, ...rest } = over;
  return {
    sourceIndex: 0,
    key: Buffer.from('k'),
    type: 'string',
    targetType: conflict ? 'string' : null,
    decision: { action, conflict, typeMismatch: mismatch },
    sourceOverlap: false,
    ...rest,
  };
}

/** A deterministic generator, so that a failure reproduces. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

const ACTIONS: Action[] = ['create', 'override', 'merge', 'skip', 'expired', 'fail'];
const TYPES: CountedType[] = ['string', 'hash', 'set', 'zset', 'list', 'stream', 'other', 'none'];

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** A mix of outcomes shaped like decide() output: `none` is always expired, a conflict has a target type. */
function generate(n: number, sources: number, seed: number): KeyOutcome[] {
  const rand = lcg(seed);
  const out: KeyOutcome[] = [];
  for (let i = 0; i < n; i++) {
    const type = pick(rand, TYPES);
    const action: Action = type === 'none' ? 'expired' : pick(rand, ACTIONS);
    const conflict = action !== 'create' && action !== 'expired';
    const mismatch = conflict && rand() < 0.2;
    const targetType: DataType | null = conflict ? (mismatch ? 'hash' : (type as DataType)) : null;
    out.push({
      sourceIndex: Math.floor(rand() * sources),
      key: Buffer.from(`key:${i}`),
      type,
      targetType,
      decision: { action, conflict, typeMismatch: mismatch },
      sourceOverlap: rand() < 0.1,
    });
  }
  return out;
}

const sumOfActions = (c: Counts) => c.created + c.overridden + c.merged + c.skipped + c.expired + c.failed;

function reportOf(tally: Tally, over: Partial<Parameters<typeof buildReport>[0]> = {}): JsonReport {
  return buildReport({
    version: '0.1.0',
    dryRun: false,
    startedAt: new Date('2024-01-02T03:04:05.000Z'),
    durationMs: 2000,
    targetUrl: 'redis://10.0.0.20:6379/0',
    sources: tally.sourceNames.map((name, i) => ({ name, url: `redis://10.0.0.1${i}:6379/0` })),
    strategies: STRATEGIES,
    tally,
    outcome: 'done',
    ...over,
  });
}

describe('Tally arithmetic', () => {
  it('scanned equals the sum of the six action counters, per type and in total, for a random mix', () => {
    const tally = new Tally(['a', 'b', 'c'], 10);
    const outcomes = generate(5000, 3, 42);
    for (const o of outcomes) tally.record(o);

    const totals = tally.totals();
    expect(totals.scanned).toBe(5000);
    expect(sumOfActions(totals)).toBe(totals.scanned);

    const byType = tally.byType();
    let scannedOverTypes = 0;
    for (const [type, counts] of Object.entries(byType)) {
      expect(sumOfActions(counts), type).toBe(counts.scanned);
      expect(counts.scanned, type).toBe(outcomes.filter((o) => o.type === type).length);
      scannedOverTypes += counts.scanned;
    }
    expect(scannedOverTypes).toBe(totals.scanned);

    // Each counter in total is the sum over types, and matches an independent count.
    for (const field of Object.keys(totals) as (keyof Counts)[]) {
      const overTypes = Object.values(byType).reduce((n, c) => n + c[field], 0);
      expect(overTypes, field).toBe(totals[field]);
    }
    expect(totals.merged).toBe(outcomes.filter((o) => o.decision.action === 'merge').length);
    expect(totals.failed).toBe(outcomes.filter((o) => o.decision.action === 'fail').length);
  });

  it('counts each action in its own past-tense counter', () => {
    const tally = new Tally(['a'], 0);
    for (const action of ACTIONS) tally.record(outcome({ action }));
    expect(tally.totals()).toEqual({
      ...emptyCounts(),
      scanned: 6,
      created: 1,
      overridden: 1,
      merged: 1,
      skipped: 1,
      expired: 1,
      failed: 1,
    });
  });

  it('lists only the types seen, in the fixed order string..stream, other, none', () => {
    const tally = new Tally(['a'], 0);
    for (const type of ['none', 'list', 'other', 'string', 'zset'] as const) {
      tally.record(outcome({ type, action: type === 'none' ? 'expired' : 'create' }));
    }
    expect(Object.keys(tally.byType())).toEqual(['string', 'zset', 'list', 'other', 'none']);
    expect(Object.keys(reportOf(tally).byType)).toEqual(['string', 'zset', 'list', 'other', 'none']);
  });

  it('counts typeMismatch and sourceOverlap in the type and in the totals', () => {
    const tally = new Tally(['a', 'b'], 5);
    tally.record(
      outcome({ type: 'hash', action: 'skip', conflict: true, mismatch: true, targetType: 'string' }),
    );
    tally.record(
      outcome({ type: 'hash', action: 'merge', conflict: true, targetType: 'hash', sourceOverlap: true }),
    );
    tally.record(outcome({ type: 'set', action: 'create', sourceOverlap: true }));
    expect(tally.totals()).toMatchObject({ typeMismatch: 1, sourceOverlap: 2 });
    expect(tally.byType().hash).toMatchObject({ scanned: 2, typeMismatch: 1, sourceOverlap: 1 });
    expect(tally.byType().set).toMatchObject({ scanned: 1, typeMismatch: 0, sourceOverlap: 1 });
  });

  it('counts scanned per source', () => {
    const tally = new Tally(['a', 'b', 'c'], 0);
    const outcomes = generate(900, 3, 7);
    for (const o of outcomes) tally.record(o);
    for (let i = 0; i < 3; i++) {
      expect(tally.sourceScanned(i)).toBe(outcomes.filter((o) => o.sourceIndex === i).length);
    }
    const report = reportOf(tally);
    expect(report.sources.map((s) => s.scanned).reduce((a, b) => a + b, 0)).toBe(900);
    expect(report.sources[1]).toEqual({
      name: 'b',
      url: 'redis://10.0.0.11:6379/0',
      scanned: tally.sourceScanned(1),
    });
  });

  it('refuses a source index that does not exist instead of reporting NaN', () => {
    const tally = new Tally(['a'], 0);
    expect(() => tally.record(outcome({ sourceIndex: 1 }))).toThrow(RangeError);
  });

  it('returns copies, so a reader cannot change the counters', () => {
    const tally = new Tally(['a'], 1);
    tally.record(outcome({}));
    tally.totals().scanned = 99;
    tally.byType().string!.created = 99;
    expect(tally.totals().scanned).toBe(1);
    expect(tally.byType().string!.created).toBe(1);
  });
});

describe('Tally conflicts', () => {
  it('counts every conflict and samples at most sampleSize of them, in order', () => {
    const tally = new Tally(['shard-a', 'shard-b'], 3);
    for (let i = 0; i < 10; i++) {
      tally.record(
        outcome({
          key: Buffer.from(`user:${i}`),
          type: 'hash',
          action: 'merge',
          conflict: true,
          sourceIndex: 1,
        }),
      );
      tally.record(outcome({ key: Buffer.from(`new:${i}`) }));
    }
    const { total, sample } = tally.conflicts();
    expect(total).toBe(10);
    expect(sample).toHaveLength(3);
    expect(sample[0]).toEqual({
      key: 'user:0',
      source: 'shard-b',
      sourceType: 'hash',
      targetType: 'string',
      action: 'merged',
    });
    expect(sample.map((s) => s.key)).toEqual(['user:0', 'user:1', 'user:2']);
  });

  it('keeps no sample with sampleSize 0 but still counts', () => {
    const tally = new Tally(['a'], 0);
    tally.record(outcome({ action: 'skip', conflict: true }));
    expect(tally.conflicts()).toEqual({ total: 1, sample: [] });
  });

  it('names each action in the past tense', () => {
    const tally = new Tally(['a'], 10);
    for (const action of ['override', 'merge', 'skip', 'fail'] as const) {
      tally.record(outcome({ action, conflict: true }));
    }
    expect(tally.conflicts().sample.map((s) => s.action)).toEqual([
      'overridden',
      'merged',
      'skipped',
      'failed',
    ]);
  });

  it('gives a key that is not valid UTF-8 as keyBase64', () => {
    const tally = new Tally(['a'], 10);
    const bad = Buffer.from([0xff, 0xfe]);
    const truncated = Buffer.from([0x61, 0xe2, 0x82]); // 'a' and the first two bytes of '€'
    tally.record(outcome({ key: bad, action: 'skip', conflict: true }));
    tally.record(outcome({ key: truncated, action: 'skip', conflict: true }));
    const [s0, s1] = tally.conflicts().sample;
    expect(s0).toMatchObject({ keyBase64: '//4=' });
    expect(s0).not.toHaveProperty('key');
    expect(Buffer.from(s1!.keyBase64!, 'base64')).toEqual(truncated);
  });

  it('gives a valid UTF-8 key as text, byte for byte: empty, NUL, newline, BOM, multi-byte', () => {
    const keys = ['', 'a\0b', 'line\nbreak', '\uFEFFbom', 'ключ:€:😀', '{tag}x'];
    const tally = new Tally(['a'], 10);
    for (const k of keys)
      tally.record(outcome({ key: Buffer.from(k, 'utf8'), action: 'skip', conflict: true }));
    const sample = tally.conflicts().sample;
    expect(sample.map((s) => s.key)).toEqual(keys);
    for (const s of sample) expect(s).not.toHaveProperty('keyBase64');
  });
});

describe('Tally fallbacks', () => {
  it('adds up keys per reason, in the order the reasons first appeared', () => {
    const tally = new Tally(['a'], 0);
    tally.fallback('payload rejected by target');
    tally.fallback('no DUMP on source (Pika)', 100);
    tally.fallback('payload rejected by target', 4);
    expect(tally.fallbacks()).toEqual([
      { reason: 'payload rejected by target', keys: 5, sample: [] },
      { reason: 'no DUMP on source (Pika)', keys: 100, sample: [] },
    ]);
  });

  it('names the first report.sample keys of each reason with their source, base64 when not UTF-8', () => {
    const tally = new Tally(['a', 'b'], 2);
    const bad = Buffer.from([0x6b, 0xff, 0x00]);
    tally.fallback('payload rejected by target', 1, { key: bad, sourceIndex: 0 });
    tally.fallback('payload rejected by target', 1, { key: Buffer.from('user:1'), sourceIndex: 1 });
    tally.fallback('payload rejected by target', 1, { key: Buffer.from('user:2'), sourceIndex: 1 });
    tally.fallback('source refuses DUMP', 1, { key: Buffer.from('ü'), sourceIndex: 1 });
    expect(tally.fallbacks()).toEqual([
      {
        reason: 'payload rejected by target',
        keys: 3,
        sample: [
          { keyBase64: bad.toString('base64'), source: 'a' },
          { key: 'user:1', source: 'b' },
        ],
      },
      { reason: 'source refuses DUMP', keys: 1, sample: [{ key: 'ü', source: 'b' }] },
    ]);
    // Copies: changing the returned report does not change the tally.
    tally.fallbacks()[0]!.sample.pop();
    expect(tally.fallbacks()[0]!.sample).toHaveLength(2);
  });

  it('keeps no sample when report.sample is 0', () => {
    const tally = new Tally(['a'], 0);
    tally.fallback('payload rejected by target', 1, { key: Buffer.from('k'), sourceIndex: 0 });
    expect(tally.fallbacks()).toEqual([{ reason: 'payload rejected by target', keys: 1, sample: [] }]);
  });
});

describe('buildReport and writeReportFile', () => {
  it('builds the SPEC §5.3 shape', () => {
    const tally = new Tally(['shard-a'], 1);
    tally.record(outcome({ type: 'hash', action: 'merge', conflict: true, targetType: 'hash' }));
    tally.fallback('payload rejected by target', 2);
    tally.fallback('payload rejected by target', 1, { key: Buffer.from('s:1'), sourceIndex: 0 });
    const report = reportOf(tally, { dryRun: true, durationMs: 1234.4 });
    expect(report).toEqual({
      tool: 'kvmerge',
      version: '0.1.0',
      dryRun: true,
      startedAt: '2024-01-02T03:04:05.000Z',
      durationMs: 1234,
      target: { url: 'redis://10.0.0.20:6379/0' },
      sources: [{ name: 'shard-a', url: 'redis://10.0.0.10:6379/0', scanned: 1 }],
      strategies: STRATEGIES,
      totals: { ...emptyCounts(), scanned: 1, merged: 1 },
      byType: { hash: { ...emptyCounts(), scanned: 1, merged: 1 } },
      conflicts: {
        total: 1,
        sample: [{ key: 'k', source: 'shard-a', sourceType: 'hash', targetType: 'hash', action: 'merged' }],
      },
      fallbacks: [
        { reason: 'payload rejected by target', keys: 3, sample: [{ key: 's:1', source: 'shard-a' }] },
      ],
      outcome: 'done',
    });
    expect(reportOf(tally, { outcome: 'failed', error: 'boom' })).toMatchObject({
      outcome: 'failed',
      error: 'boom',
    });
  });

  it('writes pretty JSON with a trailing newline and leaves no temporary file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvmerge-report-'));
    try {
      const path = join(dir, 'report.json');
      const tally = new Tally(['a'], 1);
      tally.record(outcome({}));
      await writeReportFile(path, reportOf(tally));
      await writeReportFile(path, reportOf(tally, { outcome: 'interrupted' }));
      const text = await readFile(path, 'utf8');
      expect(text.endsWith('}\n')).toBe(true);
      expect(text).toContain('\n  "tool": "kvmerge",\n');
      expect(JSON.parse(text)).toMatchObject({ outcome: 'interrupted', totals: { scanned: 1, created: 1 } });
      expect(await readdir(dir)).toEqual(['report.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects when the directory does not exist', async () => {
    const tally = new Tally(['a'], 1);
    await expect(
      writeReportFile(join(tmpdir(), 'kvmerge-no-such-dir-x9', 'r.json'), reportOf(tally)),
    ).rejects.toThrow();
  });
});

describe('formatSummary', () => {
  function sampleReport(over: Partial<Parameters<typeof buildReport>[0]> = {}): JsonReport {
    const tally = new Tally(['shard-a', 'shard-b'], 5);
    for (const o of generate(3000, 2, 3)) tally.record(o);
    tally.fallback('payload rejected by target', 12);
    return reportOf(tally, over);
  }

  it('names a few of the keys that fell back', () => {
    const tally = new Tally(['shard-a'], 10);
    for (const key of ['k1', 'k2', 'k3', 'k4']) {
      tally.fallback('payload rejected by target', 1, { key: Buffer.from(key), sourceIndex: 0 });
    }
    tally.fallback('source refuses DUMP', 1, { key: Buffer.from([0xff]), sourceIndex: 0 });
    const text = formatSummary(reportOf(tally));
    expect(text).toContain('payload rejected by target: 4 keys (e.g. "k1", "k2", "k3", …)');
    expect(text).toContain('source refuses DUMP: 1 key (base64:/w==)');
  });

  it('has a row per type seen and a totals row, with aligned columns', () => {
    const report = sampleReport();
    const text = formatSummary(report);
    const lines = text.split('\n');
    const header = lines.find((l) => l.startsWith('type'))!;
    for (const col of [
      'scanned',
      'created',
      'overridden',
      'merged',
      'skipped',
      'expired',
      'failed',
      'mismatch',
      'overlap',
    ]) {
      expect(header).toContain(col);
    }
    const rows = Object.keys(report.byType).map((t) =>
      lines.find((l) => l.startsWith(t === 'none' ? 'none' : `${t} `)),
    );
    for (const row of rows) expect(row).toBeDefined();
    const total = lines.find((l) => l.startsWith('total'))!;

    // Every table line ends at the same column, and the numbers of the totals row parse back.
    const table = [header, ...rows, total] as string[];
    expect(new Set(table.map((l) => l.length)).size).toBe(1);
    const numbers = total
      .split(/\s+/)
      .slice(1)
      .map((n) => Number(n.replace(/,/g, '')));
    expect(numbers).toEqual([
      report.totals.scanned,
      report.totals.created,
      report.totals.overridden,
      report.totals.merged,
      report.totals.skipped,
      report.totals.expired,
      report.totals.failed,
      report.totals.typeMismatch,
      report.totals.sourceOverlap,
    ]);
  });

  it('says DRY RUN or MERGE and the outcome, then conflicts, fallbacks, duration and keys/s', () => {
    const dry = formatSummary(sampleReport({ dryRun: true }));
    expect(dry.split('\n')[0]).toMatch(/^DRY RUN .*: done/);
    const failed = formatSummary(sampleReport({ outcome: 'failed', error: 'key user:1: type mismatch' }));
    expect(failed.split('\n')[0]).toMatch(/^MERGE .*: failed/);
    expect(failed).toContain('error: key user:1: type mismatch');
    expect(failed).toMatch(/conflicts: [\d,]+/);
    expect(failed).toContain('payload rejected by target: 12 keys');
    // 3000 keys in 2 s.
    expect(failed).toContain('duration: 2.0s, 1,500 keys/s');
  });

  it('has no escape codes unless color is asked for', () => {
    const report = sampleReport({ outcome: 'failed' });
    expect(formatSummary(report)).not.toContain('\x1b[');
    expect(formatSummary(report, { color: true })).toContain('\x1b[');
  });

  it('prints an empty run as a zero totals row', () => {
    const text = formatSummary(reportOf(new Tally(['a'], 0), { durationMs: 0 }));
    expect(text).toMatch(/^total\s+0\s+0/m);
    expect(text).toContain('0 keys/s');
    expect(text).not.toContain('fallbacks');
  });
});

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = {
    isTTY,
    columns: 120,
    write(chunk: string | Uint8Array, cb?: unknown) {
      chunks.push(String(chunk));
      if (typeof cb === 'function') cb();
      return true;
    },
  };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('createProgress', () => {
  // Bars load cli-progress on first use: loaded here, so that no test's timer count spans that I/O
  // (another test's timer could fire or be cleared meanwhile).
  beforeAll(async () => {
    await import('cli-progress');
  });
  it("'lines' prints start, status and finish lines", async () => {
    const out = fakeStream(false);
    const before = activeTimers();
    const progress = await createProgress({ stream: out.stream, mode: 'lines', intervalMs: 0 });
    const totals = { ...emptyCounts(), scanned: 112, created: 100, merged: 3, skipped: 9 };
    progress.sourceStarted(0, 'shard-a', 100000);
    progress.update(0, 12000, 100000, totals);
    progress.sourceFinished(0);
    progress.sourceStarted(1, 'shard-b', 0);
    progress.update(1, 500, 0, totals);
    progress.stop();
    progress.update(1, 600, 0, totals);

    const lines = out.text().trimEnd().split('\n');
    // Every line starts with its time, ISO 8601.
    for (const line of lines) expect(line).toMatch(/^\[kvmerge\] \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    const body = lines.map((l) => l.slice('[kvmerge] 2026-01-01T00:00:00.000Z '.length));
    // The run's overall done/~total (DBSIZE is an estimate), keys/s and ETA, then the source's share.
    expect(
      body.some((l) =>
        /^12000\/~100000 keys \(12%\), \d+ keys\/s, ETA \S+.*; shard-a 12000\/100000 keys \(12%\), \d+ keys\/s; created 100 /.test(
          l,
        ),
      ),
    ).toBe(true);
    expect(body.find((l) => l.includes('shard-a 12000/'))).toContain('merged 3 skipped 9 expired 0 failed 0');
    expect(body.some((l) => l.startsWith('shard-a finished: 12000 keys'))).toBe(true);
    // An unknown total (estimatedKeys 0) shows keys done without a percentage, and the ETA as unknown.
    const b = body.find((l) => l.includes('shard-b 500'))!;
    expect(b).toMatch(/^12500 keys, \d+ keys\/s, ETA \?; shard-b 500 keys, \d+ keys\/s;/);
    // Nothing after stop(): no line shows the 600 keys done (a keys/s figure may contain the digits).
    expect(out.text()).not.toMatch(/shard-b 600 keys/);
    expect(activeTimers()).toBe(before);
  });

  it("'lines' gives each source's own counters in its finished line, not the run's so far", async () => {
    const out = fakeStream(false);
    const progress = await createProgress({ stream: out.stream, mode: 'lines', intervalMs: 0 });
    progress.sourceStarted(0, 'shard-a', 10);
    progress.update(0, 10, 10, { ...emptyCounts(), scanned: 10, created: 7, skipped: 3 });
    progress.sourceFinished(0);
    progress.sourceStarted(1, 'shard-b', 5);
    progress.update(1, 5, 5, { ...emptyCounts(), scanned: 15, created: 8, skipped: 3, merged: 4 });
    progress.sourceFinished(1);
    progress.stop();
    const lines = out.text().trimEnd().split('\n');
    expect(lines.find((l) => l.includes('shard-a finished'))).toContain(
      'created 7 overridden 0 merged 0 skipped 3 expired 0 failed 0',
    );
    expect(lines.find((l) => l.includes('shard-b finished'))).toContain(
      'created 1 overridden 0 merged 4 skipped 0 expired 0 failed 0',
    );
  });

  it("'lines' throttles status lines to intervalMs and stop() clears its timer", async () => {
    const out = fakeStream(false);
    const before = activeTimers();
    const progress = await createProgress({ stream: out.stream, mode: 'lines', intervalMs: 60_000 });
    progress.sourceStarted(0, 'a', 10);
    for (let i = 1; i <= 10; i++) progress.update(0, i, 10, emptyCounts());
    expect(out.text().trimEnd().split('\n')).toHaveLength(1); // only the start line
    progress.stop();
    expect(activeTimers()).toBe(before);
  });

  it("'none' writes nothing", async () => {
    const out = fakeStream(false);
    const progress = await createProgress({ stream: out.stream, mode: 'none' });
    progress.sourceStarted(0, 'a', 10);
    progress.update(0, 5, 10, emptyCounts());
    progress.sourceFinished(0);
    progress.stop();
    expect(out.text()).toBe('');
  });

  it("'bars' draws one bar per source and a counters line, and stop() leaves no timer", async () => {
    const out = fakeStream(true);
    const before = activeTimers();
    const progress = await createProgress({ stream: out.stream, mode: 'bars' });
    progress.sourceStarted(0, 'shard-a', 1000);
    progress.update(0, 250, 1000, { ...emptyCounts(), scanned: 250, created: 240, skipped: 10 });
    progress.sourceFinished(0);
    progress.sourceStarted(1, 'shard-b', 0);
    progress.update(1, 42, 0, { ...emptyCounts(), scanned: 292, created: 282, skipped: 10 });
    expect(activeTimers()).toBeGreaterThan(before);
    progress.stop();
    progress.stop();
    expect(activeTimers()).toBe(before);
    const text = out.text();
    expect(text).toContain('shard-a');
    expect(text).toContain('250/1000 keys');
    expect(text).toContain('done in');
    expect(text).toMatch(/shard-b +42 keys \|/);
    expect(text).toContain('created 282');
  });

  it("'bars' stop() before any source writes nothing", async () => {
    const out = fakeStream(true);
    (await createProgress({ stream: out.stream, mode: 'bars' })).stop();
    expect(out.text()).toBe('');
  });
});

describe('failedKeyLine', () => {
  it('gives a UTF-8 key as key and any other as keyBase64, one JSON object a line', async () => {
    const text = failedKeyLine({ key: Buffer.from('user:é'), source: 's1', type: 'hash', reason: 'OOM' });
    expect(text).toBe('{"key":"user:é","source":"s1","type":"hash","reason":"OOM"}\n');
    const bytes = Buffer.from([0xff, 0x00, 0x0a]);
    const line = failedKeyLine({ key: bytes, source: 's2', type: 'string', reason: 'x\ny' });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      keyBase64: bytes.toString('base64'),
      source: 's2',
      type: 'string',
      reason: 'x\ny',
    });
  });
});
