/**
 * Keys over write.bigKeyElements / write.bigKeyBytes are copied in windows (SPEC §2.3), or streamed as
 * one payload where a create or override takes the dump path (issue 20), and must give
 * exactly what a small key gives, under every strategy and merge option and in every write mode
 * (SPEC §1.2, §1.4, §1.5), leaving no temporary key. (bigkeys.test.ts covers atomicity and Ctrl-C.)
 */
import { describe, expect, it } from 'vitest';
import { resolvePlan, runMerge } from '../../src/index.js';
import { counts } from '../harness/counts.js';
import {
  hash,
  list,
  normalize,
  readValue,
  seed,
  set,
  str,
  stream,
  type Value,
  zset,
} from '../harness/data.js';
import { type MergeConfig, useServers } from '../harness/merge-servers.js';
import { digest } from '../harness/redis.js';

const servers = useServers(1);

const N = 300;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
/** Runs a merge in which a key is big over 20 elements or 2 000 bytes. */
async function mergeBig(config: MergeConfig) {
  const doc = servers.doc(config) as { write?: Record<string, unknown> };
  doc.write = { ...(doc.write ?? {}), bigKeyElements: 20, bigKeyBytes: 2_000 };
  return runMerge(resolvePlan(doc, {}, {}));
}

// Source elements 0..N-1, target elements N/2..3N/2-1: half of each side is common.
const SOURCE: Record<string, Value> = {
  s: str('s'.repeat(10_000)),
  h: hash(Object.fromEntries(range(0, N).map((i) => [`f${i}`, `s${i}`]))),
  set: set(...range(0, N).map((i) => `m${i}`)),
  z: zset(...range(0, N).map((i): [string, number] => [`m${i}`, i])),
  l: list(...range(0, N).map((i) => `i${i % 200}`)),
  x: stream(...range(0, N).map((i): [string, string[]] => [`${i + 1}-0`, ['f', `s${i}`]])),
};
const TARGET: Record<string, Value> = {
  s: str('t'.repeat(5_000)),
  h: hash(Object.fromEntries(range(N / 2, (3 * N) / 2).map((i) => [`f${i}`, `t${i}`]))),
  set: set(...range(N / 2, (3 * N) / 2).map((i) => `m${i}`)),
  z: zset(...range(N / 2, (3 * N) / 2).map((i): [string, number] => [`m${i}`, 1000 - i])),
  l: list(...range(N / 2, (3 * N) / 2).map((i) => `i${i % 250}`)),
  x: stream(...range(0, 30).map((i): [string, string[]] => [`${i + 1}-1`, ['t', `${i}`]])),
};

async function expectNoTempKeys(expected: number): Promise<void> {
  expect(await servers.t.dbsize()).toBe(expected);
}

describe('big keys, copied whole', () => {
  // On the dump path a create or override streams each big value whole (one DUMP, one RESTORE); with
  // payloadMaxBytes 0, or natively, it goes in windows. Every way gives the same value.
  const WAYS = [
    ['auto', 'streamed whole'],
    ['dump', 'streamed whole'],
    ['auto', 'in windows'],
    ['native', 'in windows'],
  ] as const;
  const writeOf = (mode: string, way: string) => ({
    mode,
    ...(way === 'in windows' ? { payloadMaxBytes: 0 } : {}),
  });

  it.each(WAYS)('create copies every big key exactly (%s mode, %s)', async (mode, way) => {
    await seed(servers.s[0]!, SOURCE);
    await servers.s[0]!.pexpire('h', 100_000);
    const report = await mergeBig({ write: writeOf(mode, way) });
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: 6 }));
    for (const [key, value] of Object.entries(SOURCE)) {
      expect(await readValue(servers.t, key), key).toEqual(normalize(value));
    }
    const sourceTtl = await servers.s[0]!.pttl('h');
    const targetTtl = await servers.t.pttl('h');
    expect(targetTtl).toBeGreaterThan(sourceTtl - 3_000);
    expect(targetTtl).toBeLessThanOrEqual(sourceTtl + 250);
    await servers.s[0]!.persist('h');
    await servers.t.persist('h');
    expect(await digest(servers.target)).toBe(await digest(servers.sources[0]!));
    await expectNoTempKeys(6);
  });

  it.each(WAYS)('override replaces every big key exactly (%s mode, %s)', async (mode, way) => {
    await seed(servers.s[0]!, SOURCE);
    await seed(servers.t, TARGET);
    await servers.t.pexpire('set', 100_000);
    const report = await mergeBig({ strategies: { default: 'override' }, write: writeOf(mode, way) });
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ overridden: 6 }));
    expect(await servers.t.pttl('set')).toBe(-1);
    expect(await digest(servers.target)).toBe(await digest(servers.sources[0]!));
    await expectNoTempKeys(6);
  });

  it('skip keeps every big target value', async () => {
    await seed(servers.s[0]!, SOURCE);
    await seed(servers.t, TARGET);
    const before = await digest(servers.target);
    const report = await mergeBig({ strategies: { default: 'skip' } });
    expect(report.totals).toEqual(counts({ skipped: 6 }));
    expect(await digest(servers.target)).toBe(before);
  });
});

describe('big keys, merged in windows', () => {
  const sourcePairs = (v: Value) => (v as { value: [string, string][] }).value;

  it.each(['source', 'target'])('hash merge, hashField %s', async (rule) => {
    await seed(servers.s[0]!, { h: SOURCE.h! });
    await seed(servers.t, { h: TARGET.h! });
    const report = await mergeBig({ strategies: { hash: 'merge' }, merge: { hashField: rule } });
    expect(report.totals).toEqual(counts({ merged: 1 }));
    const expected = new Map<string, string>();
    const [first, second] = rule === 'source' ? [TARGET.h!, SOURCE.h!] : [SOURCE.h!, TARGET.h!];
    for (const [f, v] of sourcePairs(first)) expected.set(f, v);
    for (const [f, v] of sourcePairs(second)) expected.set(f, v);
    expect(await readValue(servers.t, 'h')).toEqual(normalize(hash([...expected])));
    await expectNoTempKeys(1);
  });

  it('set merge is the union', async () => {
    await seed(servers.s[0]!, { set: SOURCE.set! });
    await seed(servers.t, { set: TARGET.set! });
    await mergeBig({ strategies: { set: 'merge' } });
    expect(await readValue(servers.t, 'set')).toEqual(
      normalize(set(...range(0, (3 * N) / 2).map((i) => `m${i}`))),
    );
    await expectNoTempKeys(1);
  });

  it.each(['source', 'target', 'max', 'min', 'sum'])('zset merge, zsetScore %s', async (rule) => {
    await seed(servers.s[0]!, { z: SOURCE.z! });
    await seed(servers.t, { z: TARGET.z! });
    const report = await mergeBig({ strategies: { zset: 'merge' }, merge: { zsetScore: rule } });
    expect(report.totals).toEqual(counts({ merged: 1 }));
    const source = new Map(range(0, N).map((i) => [`m${i}`, i]));
    const target = new Map(range(N / 2, (3 * N) / 2).map((i) => [`m${i}`, 1000 - i]));
    const expected = new Map<string, number>();
    for (const member of new Set([...source.keys(), ...target.keys()])) {
      const s = source.get(member);
      const t = target.get(member);
      if (s === undefined) expected.set(member, t!);
      else if (t === undefined) expected.set(member, s);
      else {
        const pick = { source: s, target: t, max: Math.max(s, t), min: Math.min(s, t), sum: s + t };
        expected.set(member, pick[rule as keyof typeof pick]);
      }
    }
    expect(await readValue(servers.t, 'z')).toEqual(normalize(zset(...expected)));
    await expectNoTempKeys(1);
  });

  it.each(['append', 'prepend', 'union'])('list merge %s', async (rule) => {
    await seed(servers.s[0]!, { l: SOURCE.l! });
    await seed(servers.t, { l: TARGET.l! });
    const report = await mergeBig({ strategies: { list: 'merge' }, merge: { list: rule } });
    expect(report.totals).toEqual(counts({ merged: 1 }));
    const s = (SOURCE.l as { value: string[] }).value;
    const t = (TARGET.l as { value: string[] }).value;
    let expected: string[];
    if (rule === 'append') expected = [...t, ...s];
    else if (rule === 'prepend') expected = [...s, ...t];
    else {
      expected = [...t];
      const held = new Set(t);
      for (const item of s) {
        if (!held.has(item)) {
          held.add(item);
          expected.push(item);
        }
      }
    }
    expect(await readValue(servers.t, 'l')).toEqual(normalize(list(...expected)));
    await expectNoTempKeys(1);
  });

  it('merge.ttl min gives a merged big key the shorter lifetime', async () => {
    await seed(servers.s[0]!, { set: SOURCE.set! });
    await seed(servers.t, { set: TARGET.set! });
    await servers.s[0]!.pexpire('set', 100_000);
    await mergeBig({ strategies: { set: 'merge' }, merge: { ttl: 'min' } });
    const ttl = await servers.t.pttl('set');
    expect(ttl).toBeGreaterThan(95_000);
    expect(ttl).toBeLessThanOrEqual(100_000);
  });
});
