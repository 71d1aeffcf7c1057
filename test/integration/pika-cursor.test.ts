/**
 * A source whose SCAN cursor never returns to 0 (issue 15; SPEC §7, Pika 3.x): the run never loops on
 * it. Pika 3.5 keeps a walk's position on the server, in a cache keyed by the cursor number; a walk
 * whose position the server no longer has goes on from another one. The cycle users reported (COUNT
 * 100 on 200 names: cursors 100, 200, 200, … each with 100 keys) did not come back by refilling a
 * real 3.5.5 here, so a proxy in front of the real server makes it: from the third page on, every
 * SCAN is answered as the second page is (and, where asked, every SCANX as its first page is). The
 * work-arounds (SCANX per type, KEYS on a small database) run against the real server behind it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  hash,
  keyCount,
  list,
  normalize,
  readValue,
  seedAll,
  set,
  str,
  type Value,
  zset,
} from '../harness/data.js';
import { useServers } from '../harness/merge-servers.js';
import { type RewriteProxy, startRewriteProxy, upper } from '../harness/rewrite-proxy.js';
import { describeServer } from '../harness/servers.js';

const NAMES = 200;
const COUNT = 10;
/** A run that would loop is stopped by vitest well before this, as a failure, not a hang. */
const TIMEOUT_MS = 60_000;

/** Name i's types, in fold order (string > hash > list > zset > set); about half the names hold two. */
function typesOf(i: number): Value[] {
  const all = [str(`v${i}`), hash({ f: `${i}` }), list('a', `${i}`), zset([`m${i}`, i]), set(`${i}`)];
  const first = i % 5;
  return i % 2 === 0 && first < 4 ? [all[first]!, all[first + 1]!] : [all[first]!];
}

/** Every name with its types, one [name, value] each, to write with `add` (a name holds several). */
const NAME_KEYS = Array.from({ length: NAMES }, (_, i) =>
  typesOf(i).map((value): [string, Value] => [`n:${i}`, value]),
).flat();

/** Every SCAN after the second page answered as the second page is: cursors 10, 20, 20, 20, … */
function cyclingScan(args: Buffer[]): Buffer[] {
  if (upper(args[0]) !== 'SCAN' || Number(args[1]) < 2 * COUNT) return args;
  return [args[0]!, Buffer.from(String(COUNT)), ...args.slice(2)];
}

/** SCANX TYPE START … answered as its first page is: the next key comes back for ever. */
function cyclingScanx(args: Buffer[]): Buffer[] {
  if (upper(args[0]) !== 'SCANX' || (args[2]?.length ?? 0) === 0) return args;
  return [args[0]!, args[1]!, Buffer.alloc(0), ...args.slice(3)];
}

/** KEYS refused, as a user's ACL would (an error reply: KEYS without its pattern; Pika drops a client
 * that sends an unknown command). */
function noKeys(args: Buffer[]): Buffer[] {
  return upper(args[0]) === 'KEYS' ? [args[0]!] : args;
}

describeServer('pika-3.5.5', 'Pika 3.5: a SCAN cursor that never returns to 0 (SPEC §7)', () => {
  const servers = useServers(1, { source: { server: 'pika-3.5.5' } });
  let proxy: RewriteProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  const viaProxy = async (...rewrites: ((args: Buffer[]) => Buffer[])[]) => {
    proxy = await startRewriteProxy(servers.sources[0]!.port, (args) =>
      rewrites.reduce((a, rewrite) => rewrite(a), args),
    );
    return { sources: [{ url: proxy.url(servers.sources[0]!.url) }], write: { scanCount: COUNT } };
  };

  /** The target holds each name once, as its first type (the later types meet it: typeMismatch skip). */
  async function expectAllNames(): Promise<void> {
    expect(await keyCount(servers.t)).toBe(NAMES);
    for (let i = 0; i < NAMES; i++) {
      expect(await readValue(servers.t, `n:${i}`)).toEqual(normalize(typesOf(i)[0]!));
    }
  }

  const STEPS = Array.from({ length: NAMES }, (_, i) => typesOf(i).length).reduce((a, b) => a + b, 0);

  describe('the work-arounds', () => {
    it(
      'a cycling SCAN: the names come from SCANX per type and the stream sweep from KEYS, each once',
      async () => {
        await seedAll(servers, { sources: [NAME_KEYS] }, { add: true });
        const config = await viaProxy(cyclingScan);
        const dry = await servers.merge(config, { dryRun: true });
        expect(dry.outcome, dry.error).toBe('done');
        const real = await servers.merge(config);
        expect(real.outcome, real.error).toBe('done');
        expect(real.totals.created).toBe(NAMES);
        expect(real.totals.created + real.totals.skipped).toBe(STEPS);
        expect(dry.totals).toEqual(real.totals);
        expect(proxy!.seen.get('KEYS')).toBeGreaterThan(0);
        await expectAllNames();
      },
      TIMEOUT_MS,
    );

    it(
      'a cycling SCAN and SCANX: each type is listed by KEYS pattern TYPE, each name once per type',
      async () => {
        await seedAll(servers, { sources: [NAME_KEYS] }, { add: true });
        const config = await viaProxy(cyclingScan, cyclingScanx);
        const dry = await servers.merge(config, { dryRun: true });
        expect(dry.outcome, dry.error).toBe('done');
        const real = await servers.merge(config);
        expect(real.outcome, real.error).toBe('done');
        expect(real.totals.created).toBe(NAMES);
        expect(real.totals.created + real.totals.skipped).toBe(STEPS);
        expect(dry.totals).toEqual(real.totals);
        await expectAllNames();
      },
      TIMEOUT_MS,
    );
  });

  it(
    'no work-around left (KEYS refused): the run stops with exit 1, naming the server and the quirk',
    async () => {
      await seedAll(servers, { sources: [NAME_KEYS] }, { add: true });
      const config = await viaProxy(cyclingScan, noKeys);
      for (const dryRun of [true, false]) {
        const report = await servers.merge(config, { dryRun });
        expect(report.outcome).toBe('failed');
        expect(report.error).toContain(`127.0.0.1:${proxy!.port}`);
        expect(report.error).toMatch(/SCAN.*cursor/);
      }
    },
    TIMEOUT_MS,
  );
});
