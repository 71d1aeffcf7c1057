/**
 * The bench's "separate hosts" projection (bench/projection.ts, issue 20): kvmerge's stretch per source
 * is the busiest of kvmerge, that source and the target, after its start-up; MIGRATE's sources and
 * target add up, since MIGRATE waits for the target.
 */
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../bench/contenders.js';
import { projectionLines, separateHosts } from '../../bench/projection.js';

const outcome = (name: Outcome['name'], cpu: Outcome['cpu']): Outcome => ({
  name,
  label: name,
  keys: 300,
  bytes: 1,
  wallMs: 1,
  notes: [],
  cpu,
});

describe('the separate-hosts projection', () => {
  const keys = [100, 100, 100];
  const startup = { cpuS: 0.5, wallS: 0.4 };

  it('kvmerge: per source the busiest of kvmerge, the source and the target, after start-up', () => {
    // kvmerge 1.5 s after start-up (0.5 s a source), the target 0.3 s (0.1 s a source).
    const p = separateHosts(
      outcome('copy', { sources: [0.2, 0.8, 0.4], target: [0.3], client: 2.0 }),
      keys,
      startup,
    );
    expect(p?.wallS).toBeCloseTo(0.4 + 0.5 + 0.8 + 0.5, 6);
    expect(p?.keysPerS).toBeCloseTo(300 / 2.2, 6);
  });

  it('the bare copy: the same stretches, its whole CPU per key and no start-up apart', () => {
    // Measured start-up is kvmerge's: the bare copy's node start is left inside its own CPU.
    const p = separateHosts(
      outcome('bare', { sources: [0.2, 0.8, 0.4], target: [0.3], client: 1.2 }),
      keys,
      startup,
    );
    expect(p?.wallS).toBeCloseTo(0.4 + 0.8 + 0.4, 6);
    expect(p?.detail).toMatch(/^max\(client 4000\.0, .* after 0\.00 s of start-up$/);
  });

  it("a cluster target: its busiest master sets the target's pace", () => {
    const p = separateHosts(
      outcome('copy', { sources: [0.1, 0.1, 0.1], target: [0.3, 3.0, 0.6], client: 0.5 }),
      keys,
      startup,
    );
    expect(p?.wallS).toBeCloseTo(0.4 + 3 * 1.0, 6);
  });

  it('MIGRATE: the sources and the target add up', () => {
    const p = separateHosts(outcome('migrate', { sources: [0.5, 0.5, 0.5], target: [0.6] }), keys, startup);
    expect(p?.wallS).toBeCloseTo(1.5 + 0.6, 6);
  });

  it('says nothing without the figures it needs, or for the ceiling', () => {
    expect(
      separateHosts(outcome('copy', { sources: [0.1, 0.1, 0.1], target: [0.1] }), keys, startup),
    ).toBeUndefined();
    expect(
      separateHosts(outcome('copy', { sources: [1, 1, 1], target: [1], client: 2 }), keys, undefined),
    ).toBeUndefined();
    expect(
      separateHosts(outcome('ceiling', { sources: [0, 0, 0], target: [0.4] }), keys, startup),
    ).toBeUndefined();
    expect(separateHosts({ ...outcome('copy', undefined), error: 'failed' }, keys, startup)).toBeUndefined();
  });

  it("prints each contender's projection against MIGRATE's", () => {
    const lines = projectionLines(
      [
        outcome('copy', { sources: [0.2, 0.2, 0.2], target: [0.3], client: 2.0 }),
        outcome('migrate', { sources: [0.5, 0.5, 0.5], target: [0.6] }),
      ],
      keys,
      startup,
    );
    const copy = lines.find((l) => l.trimStart().startsWith('copy'));
    expect(copy).toMatch(/1\.90 s {2}158 keys\/s {2}1\.11× MIGRATE/);
  });
});
