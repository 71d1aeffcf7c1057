/**
 * A standalone Redis is probed by one script per batch (servers/batch-scripts.ts), which also reads
 * small values: the run must give the same target as the key-by-key path, and a user whose scripts
 * are refused part-way must still get every key.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolvePlan, runMerge } from '../../src/index.js';
import { counts } from '../harness/counts.js';
import { hash, type Keys, list, seed, set, str, stream, type Value, zset } from '../harness/data.js';
import { type Servers, startServers } from '../harness/merge-servers.js';
import { digest, type RedisServer } from '../harness/redis.js';

// May run EVAL, but not DUMP: a script that DUMPs is refused only once a key is there to dump.
const EVAL_NO_DUMP = 'evalnodump on >pw ~* &* +@read -@write +ping +eval -dump';

let servers: Servers;
let source: RedisServer;
let s: Redis;

beforeAll(async () => {
  servers = await startServers(1, { source: { aclUsers: [EVAL_NO_DUMP] } });
  source = servers.sources[0]!;
  s = servers.s[0]!;
});
afterAll(async () => {
  await servers?.stop();
});
beforeEach(async () => {
  await servers.flush();
  await s.call('CONFIG', 'RESETSTAT');
});

/** `n` keys of each type. */
function allTypes(n: number): Keys {
  const data: Record<string, Value> = {};
  for (let i = 0; i < n; i++) {
    data[`s${i}`] = str(`v${i}`);
    data[`h${i}`] = hash({ f: `${i}`, g: 'w' });
    data[`set${i}`] = set('a', `${i}`);
    data[`z${i}`] = zset(['a', i], ['b', -i]);
    data[`l${i}`] = list('x', `${i}`, 'x');
    data[`x${i}`] = stream(['1-0', ['f', `${i}`]]);
  }
  return data;
}

/** How many times the source ran a command, from INFO commandstats (calls inside scripts count too). */
async function calls(r: Redis, command: string): Promise<number> {
  const info = await r.info('commandstats');
  const m = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

describe('batch scripts on a standalone source', () => {
  it('one EVAL per batch probes and dumps the keys, and the target equals the source', async () => {
    await seed(s, allTypes(100));
    await s.pexpire('s1', 600_000);
    const report = await runMerge(resolvePlan(servers.doc({ write: { batchSize: 100 } }), {}, {}));
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: 600 }));
    expect(await digest(servers.target)).toBe(await digest(source));
    expect(await servers.t.pttl('s1')).toBeGreaterThan(590_000);
    // 600 keys in batches of 100: 6 scripts (and the 2 tried once at connect), and no DUMP sent of
    // its own (the scripts' DUMPs are the 600).
    expect(await calls(s, 'eval')).toBe(6 + 2);
    expect(await calls(s, 'dump')).toBe(600);
    // Every key is sized by MEMORY USAGE and, being small, dumped with its PTTL: three calls, its type
    // read from the payload, so no TYPE and no OBJECT ENCODING. (One more MEMORY USAGE and TYPE: the two
    // scripts tried at connect, on a key that does not exist.)
    expect(await calls(s, 'memory\\|usage')).toBe(600 + 1);
    expect(await calls(s, 'pttl')).toBe(600);
    expect(await calls(s, 'type')).toBe(0 + 1);
    expect(await calls(s, 'object\\|encoding')).toBe(0);
  });

  it('a merge writes from the payloads the scripts read: the source is not asked for the values again', async () => {
    const n = 50;
    const onSource: Keys = {};
    const onTarget: Keys = {};
    for (let i = 0; i < n; i++) {
      onSource[`h${i}`] = hash({ f: `s${i}`, only: 'source' });
      onTarget[`h${i}`] = hash({ f: `t${i}`, mine: 'target' });
      onSource[`set${i}`] = set('a', `${i}`);
      onTarget[`set${i}`] = set('b');
      onSource[`z${i}`] = zset(['a', i], ['c', 1.5]);
      onTarget[`z${i}`] = zset(['a', -1], ['b', 7]);
      onSource[`l${i}`] = list('x', `${i}`);
      onTarget[`l${i}`] = list('t');
    }
    await seed(s, onSource);
    await seed(servers.t, onTarget);
    const report = await runMerge(
      resolvePlan(
        servers.doc({
          strategies: { hash: 'merge', set: 'merge', zset: 'merge', list: 'merge' },
          merge: { zsetScore: 'max', list: 'append' },
          write: { batchSize: 100 },
        }),
        {},
        {},
      ),
    );
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals).toEqual(counts({ merged: 4 * n }));
    expect(await servers.t.hgetall('h7')).toEqual({ f: 's7', only: 'source', mine: 'target' });
    expect(await servers.t.smembers('set7').then((m) => m.sort())).toEqual(['7', 'a', 'b']);
    expect(await servers.t.zrange('z7', 0, -1, 'WITHSCORES')).toEqual(['c', '1.5', 'a', '7', 'b', '7']);
    expect(await servers.t.lrange('l7', 0, -1)).toEqual(['t', 'x', '7']);
    // Each value came from its script's DUMP: no native read, and no TYPE or PTTL of its own beside
    // the scripts' (the one TYPE is the scripts' trial at connect).
    for (const read of ['hgetall', 'smembers', 'zrange', 'lrange'])
      expect(await calls(s, read), read).toBe(0);
    expect(await calls(s, 'type')).toBe(1);
    expect(await calls(s, 'pttl')).toBe(4 * n);
  });

  it('a user whose scripts may not DUMP is probed key by key and read natively, every key copied', async () => {
    await seed(s, allTypes(20));
    const before = await digest(source);
    const report = await runMerge(
      resolvePlan(
        servers.doc({ sources: [{ url: `redis://evalnodump:pw@127.0.0.1:${source.port}/0` }] }),
        {},
        {},
      ),
    );
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: 120 }));
    expect(await digest(servers.target)).toBe(before);
    // The 2 scripts tried at connect passed (no key to DUMP); the first batch's was refused (its
    // DUMP), after which no script ran.
    expect(await calls(s, 'eval')).toBe(2 + 1);
  });
});
