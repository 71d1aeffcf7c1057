/**
 * What the verify tests share: the layout they seed (a target and two sources with overlapping keys of
 * every type, some with TTLs, one binary key), its keys, and the journal's priors as a run would
 * record them.
 */
import type { Redis } from 'ioredis';
import { type JournaledKey, type MergePlan, verify } from '../../src/index.js';
import { expiring, hash, type Layout, list, set, str, stream, zset } from './data.js';

export const BINARY = Buffer.from([0, 0xff, 0x0a, 0xc3]);

/** Overlapping keys of every type on the target and both sources, some with TTLs. */
export const LAYOUT: Layout = {
  target: {
    str: str('target'),
    h: expiring(900_000, hash({ a: 't', b: 't' })),
    st: set('x', 'y'),
    z: zset(['m', 1], ['n', 5]),
    l: list('a', 'b'),
    xs: stream(['1-1', ['f', 't']]),
    mixed: set('t'),
  },
  sources: [
    [
      ...Object.entries({
        str: str('one'),
        h: hash({ b: 's1', c: 's1' }),
        st: set('y', 'z'),
        z: zset(['m', 3], ['o', 2]),
        l: list('b', 'c'),
        xs: stream(['2-1', ['f', 's1']]),
        mixed: str('s1'),
        only1: expiring(600_000, hash({ k: 'v' })),
      }),
      [BINARY, str(BINARY)],
    ],
    {
      str: str('two'),
      h: hash({ c: 's2' }),
      z: zset(['m', -2]),
      l: list('c', 'd'),
      only2: list('p', 'q'),
      ttl: expiring(300_000, str('short-lived')),
    },
  ],
};

/** Every key LAYOUT's sources hold. */
export const ALL_KEYS = ['str', 'h', 'st', 'z', 'l', 'xs', 'mixed', 'only1', 'only2', 'ttl', BINARY];

/** The state the journal would record: each source key's target value before the run, as DUMP + expiry. */
export async function priorsBefore(t: Redis, keys: (string | Buffer)[]): Promise<JournaledKey[]> {
  const out: JournaledKey[] = [];
  for (const key of keys) {
    const payload = await t.dumpBuffer(key);
    const pttl = await t.pttl(key);
    out.push({
      key: Buffer.from(key),
      prior:
        payload === null
          ? { kind: 'absent' }
          : { kind: 'dump', payload, expireAt: pttl >= 0 ? Date.now() + pttl : null },
    });
  }
  return out;
}

export async function* iterate<T>(items: T[]): AsyncIterable<T> {
  yield* items;
}

/** Differences by key, TTL figures left out (two checks a few ms apart see other remaining TTLs). */
export async function differences(plan: MergePlan, options = {}): Promise<Record<string, [string, string]>> {
  const report = await verify(plan, options);
  const ttl = (s: string): string => s.replace(/TTL \d+ ms/g, 'TTL n ms');
  return Object.fromEntries(
    report.listed.map((d) => [d.key ?? `b64:${d.keyBase64}`, [ttl(d.expected), ttl(d.found)]]),
  );
}
