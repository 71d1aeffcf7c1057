/**
 * The window table of the big-key copy (src/types/<type>/window.ts): per type, the command that reads
 * one window and the window its reply gives, the commands that write a window, and the per-type
 * decisions of the copy (merge, fold, list length, stream tail). Pure parts only, against fake replies.
 */
import { describe, expect, it } from 'vitest';
import type { Caps } from '../../src/servers/caps.js';
import type { Command, Reply } from '../../src/servers/resp.js';
import type { Transport } from '../../src/servers/transport.js';
import { type Dialect, REDIS_DIALECT } from '../../src/types/codec.js';
import type { MergeOptions, NativeType } from '../../src/types/strategy.js';
import type { WalkOptions } from '../../src/types/window-ops.js';
import { WINDOWS } from '../../src/types/windows.js';
import { valueWindows } from '../../src/write/windows.js';

const b = (s: string): Buffer => Buffer.from(s);
const bs = (...s: string[]): Buffer[] => s.map(b);
const K = b('k');
const T = b('into');
const text = (commands: (Command | null)[]): unknown =>
  commands.map((c) => c?.map((a) => (Buffer.isBuffer(a) ? a.toString() : a)) ?? null);
const walkOpts = (more: Partial<WalkOptions> = {}): WalkOptions => ({
  windowBytes: 1024,
  length: 0,
  ...more,
});
/** What the codecs and the copy ask of a Redis and of a Pika. */
const PIKA_DIALECT: Dialect = {
  multiPairHset: false,
  zaddFlags: false,
  zrangeComplete: false,
  streamGroups: false,
};
const REDIS_CAPS = { ...REDIS_DIALECT, streamTtl: true } as Caps;
const PIKA_CAPS = { ...PIKA_DIALECT, streamTtl: false } as Caps;
const MERGE: MergeOptions = { hashField: 'source', zsetScore: 'source', list: 'append', ttl: 'max' };

/** A transport that answers from `answer` and records what it was sent. */
function fakeTransport(answer: (c: Command) => Reply): Transport & { sent: Command[] } {
  const sent: Command[] = [];
  return {
    sent,
    send: async (commands) => {
      sent.push(...commands);
      return commands.map(answer);
    },
    close: () => undefined,
  };
}

describe('reading a window: the command and the window its reply gives', () => {
  it.each([
    ['hash', 'HSCAN'],
    ['set', 'SSCAN'],
    ['zset', 'ZSCAN'],
  ] as const)('%s pages through %s, its cursor carried to the next page and 0 ending it', (type, command) => {
    const walk = WINDOWS[type].walk(K, walkOpts());
    expect(text([walk.next(64)])).toEqual([[command, 'k', '0', 'COUNT', 64]]);
    const window = walk.take([b('17'), bs('a', '1', 'b', '2')]);
    expect(text([walk.next(32)])).toEqual([[command, 'k', '17', 'COUNT', 32]]);
    // A zset's window is laid out as ZADD takes it: score first.
    expect(window?.map(String)).toEqual(type === 'zset' ? ['1', 'a', '2', 'b'] : ['a', '1', 'b', '2']);
    expect(walk.take([b('0'), []])).toEqual([]);
    expect(walk.next(32)).toBeNull();
    expect(WINDOWS[type].walk(K, walkOpts()).take(new Error('WRONGTYPE'))).toBeNull();
  });

  it('a list reads LRANGE by index, from the head or from the tail, up to its length', () => {
    const list = WINDOWS.list;
    expect(text([list.length!(K)])).toEqual([['LLEN', 'k']]);
    const head = list.walk(K, walkOpts({ length: 5 }));
    expect(text([head.next(3)])).toEqual([['LRANGE', 'k', 0, 2]]);
    expect(head.take(bs('a', 'b', 'c'))?.map(String)).toEqual(['a', 'b', 'c']);
    expect(text([head.next(3)])).toEqual([['LRANGE', 'k', 3, 4]]);
    head.take(bs('d', 'e'));
    expect(head.next(3)).toBeNull();
    const tail = list.walk(K, walkOpts({ length: 5, fromTail: true }));
    expect(text([tail.next(3)])).toEqual([['LRANGE', 'k', 2, 4]]);
    tail.take(bs('c', 'd', 'e'));
    expect(text([tail.next(3)])).toEqual([['LRANGE', 'k', 0, 1]]);
    expect(list.walk(K, walkOpts({ length: 5 })).take([])).toBeNull();
  });

  it('a stream reads XRANGE by id, the next window after the last id', () => {
    const walk = WINDOWS.stream.walk(K, walkOpts());
    expect(text([walk.next(10)])).toEqual([['XRANGE', 'k', '-', '+', 'COUNT', 10]]);
    const entries = [[b('1-1'), bs('f', 'v')]] as unknown as Reply;
    expect(walk.take(entries)).toEqual(entries);
    expect(text([walk.next(10)])).toEqual([['XRANGE', 'k', '(1-1', '+', 'COUNT', 10]]);
    expect(walk.take([])).toBeNull();
  });

  it('a string reads GETRANGE chunks of a fixed size, up to its length', () => {
    const string = WINDOWS.string;
    expect(text([string.length!(K)])).toEqual([['STRLEN', 'k']]);
    const walk = string.walk(K, walkOpts({ length: 10, stringChunk: 4 }));
    expect(text([walk.next(1), walk.next(1), walk.next(1), walk.next(1)])).toEqual([
      ['GETRANGE', 'k', 0, 3],
      ['GETRANGE', 'k', 4, 7],
      ['GETRANGE', 'k', 8, 9],
      null,
    ]);
    expect(walk.take(b('abcd'))?.map(String)).toEqual(['abcd']);
    expect(walk.take(b(''))).toBeNull();
  });

  it('an empty string is one empty chunk (no window at all would read as a gone key)', () => {
    const walk = WINDOWS.string.walk(K, walkOpts({ length: 0, stringChunk: 4 }));
    expect(text([walk.next(1)])).toEqual([['GETRANGE', 'k', 0, 0]]);
    expect(walk.take(b(''))?.map(String)).toEqual(['']);
    expect(walk.next(1)).toBeNull();
  });

  it('valueWindows runs the walk: sizes the value, skips empty pages, ends on another shape', async () => {
    const replies = new Map<string, Reply>([
      ['HSCAN k 0 COUNT 64', [b('5'), []]],
      ['HSCAN k 5 COUNT 64', [b('0'), bs('f', 'v')]],
      ['LLEN k', 3],
      ['LRANGE k 0 2', bs('a', 'b', 'c')],
    ]);
    const ask = async (c: Command): Promise<Reply> =>
      replies.get(c.map(String).join(' ')) ?? new Error('none');
    const read = async (type: NativeType) => {
      const out: string[][] = [];
      for await (const w of valueWindows(ask, K, type, { windowBytes: 1 << 20 })) out.push(w.map(String));
      return out;
    };
    expect(await read('hash')).toEqual([['f', 'v']]);
    expect(await read('list')).toEqual([['a', 'b', 'c']]);
    expect(await read('set')).toEqual([]);
  });

  it('a window is measured by its elements: pairs for hash and zset, members, items, entries', () => {
    expect(WINDOWS.hash.measure(bs('f', 'v')).elements).toBe(1);
    expect(WINDOWS.zset.measure(bs('1', 'm')).elements).toBe(1);
    expect(WINDOWS.set.measure(bs('a', 'b')).elements).toBe(2);
    expect(WINDOWS.list.measure(bs('a', 'b')).elements).toBe(2);
    const entries = [[b('1-1'), bs('f', 'v')]] as unknown as Buffer[];
    expect(WINDOWS.stream.measure(entries)).toEqual({ bytes: 3 + 2 * 17, elements: 1 });
  });
});

describe('writing a window into a key being built', () => {
  it.each([
    ['string', bs('abc'), [['APPEND', 'into', 'abc']]],
    ['hash', bs('f', 'v'), [['HSET', 'into', 'f', 'v']]],
    ['set', bs('a', 'b'), [['SADD', 'into', 'a', 'b']]],
    ['zset', bs('1', 'm'), [['ZADD', 'into', '1', 'm']]],
    ['list', bs('a', 'b'), [['RPUSH', 'into', 'a', 'b']]],
    ['stream', [[b('1-1'), bs('f', 'v')]] as unknown as Buffer[], [['XADD', 'into', '1-1', 'f', 'v']]],
  ] as const)('%s', (type, window, commands) => {
    expect(text(WINDOWS[type].write(T, window as Buffer[], REDIS_DIALECT))).toEqual(commands);
  });

  it("a hash into a server whose HSET takes one pair writes HMSET (the target's dialect)", () => {
    expect(text(WINDOWS.hash.write(T, bs('f', 'v'), PIKA_DIALECT))).toEqual([['HMSET', 'into', 'f', 'v']]);
  });
});

describe('merging a window into the key itself', () => {
  const merged = async (
    type: NativeType,
    opts: Partial<MergeOptions>,
    window: Buffer[],
    target = fakeTransport(() => null),
  ) => {
    const merge = await WINDOWS[type].merge!({
      target,
      key: K,
      opts: { ...MERGE, ...opts },
      dialect: REDIS_DIALECT,
      windowBytes: 1 << 20,
    });
    return {
      fromTail: merge.fromTail,
      commands: text(await merge.commands(window)),
      sent: text(target.sent),
    };
  };

  it('hash: the target field wins with HSETNX', async () => {
    expect((await merged('hash', { hashField: 'target' }, bs('f', 'v'))).commands).toEqual([
      ['HSETNX', 'k', 'f', 'v'],
    ]);
  });

  it('set: SADD', async () => {
    expect((await merged('set', {}, bs('a'))).commands).toEqual([['SADD', 'k', 'a']]);
  });

  it('zset: ZADD with the rule as a flag; without flags (Pika), the target scores are read first', async () => {
    expect((await merged('zset', { zsetScore: 'max' }, bs('2', 'm'))).commands).toEqual([
      ['ZADD', 'k', 'GT', '2', 'm'],
    ]);
    const target = fakeTransport(() => b('5'));
    const merge = await WINDOWS.zset.merge!({
      target,
      key: K,
      opts: { ...MERGE, zsetScore: 'max' },
      dialect: PIKA_DIALECT,
      windowBytes: 1 << 20,
    });
    expect(text(await merge.commands(bs('2', 'm', '9', 'n')))).toEqual([['ZADD', 'k', '9', 'n']]);
    expect(text(target.sent)).toEqual([
      ['ZSCORE', 'k', 'm'],
      ['ZSCORE', 'k', 'n'],
    ]);
  });

  it('zset sum is built aside and folded in with ZUNIONSTORE; no other rule or type is', () => {
    const aside = WINDOWS.zset.mergeAside!;
    expect(aside.wanted({ ...MERGE, zsetScore: 'sum' })).toBe(true);
    expect(aside.wanted(MERGE)).toBe(false);
    expect(text([aside.fold(K, T)])).toEqual([['ZUNIONSTORE', 'k', 2, 'k', 'into', 'AGGREGATE', 'SUM']]);
    for (const type of ['string', 'hash', 'set', 'list', 'stream'] as const)
      expect(WINDOWS[type].mergeAside).toBeUndefined();
  });

  it('list: append RPUSH, prepend LPUSH read from the tail, union what the target does not hold', async () => {
    expect(await merged('list', { list: 'append' }, bs('a'))).toMatchObject({
      fromTail: false,
      commands: [['RPUSH', 'k', 'a']],
    });
    expect(await merged('list', { list: 'prepend' }, bs('a', 'b'))).toMatchObject({
      fromTail: true,
      commands: [['LPUSH', 'k', 'b', 'a']],
    });
    const target = fakeTransport((c) => (c[0] === 'LLEN' ? 2 : bs('a', 'b')));
    const union = await merged('list', { list: 'union' }, bs('b', 'c', 'c'), target);
    expect(union.commands).toEqual([['RPUSH', 'k', 'c']]);
    expect(union.sent).toEqual([
      ['LLEN', 'k'],
      ['LRANGE', 'k', 0, 9999],
    ]);
  });

  it('only a list is told applied by its length: what its windows push', () => {
    expect(
      WINDOWS.list.pushes!([
        ['RPUSH', K, 'a', 'b'],
        ['LPUSH', K, 'c'],
        ['PEXPIRE', K, 1],
      ]),
    ).toBe(3);
    for (const type of ['string', 'hash', 'set', 'zset', 'stream'] as const)
      expect(WINDOWS[type].pushes).toBeUndefined();
  });

  it('string and stream cannot merge', () => {
    expect(WINDOWS.string.merge).toBeUndefined();
    expect(WINDOWS.stream.merge).toBeUndefined();
  });
});

describe("a type's own decisions in a windowed copy", () => {
  it("a stream's tail: XINFO STREAM and GROUPS on the source, XSETID and XGROUP on the target", async () => {
    const source = fakeTransport((c) =>
      c[1] === 'STREAM'
        ? [b('last-generated-id'), b('9-9')]
        : [[b('name'), b('g'), b('last-delivered-id'), b('1-1')]],
    );
    const tail = await WINDOWS.stream.tail!(source, K, T, REDIS_CAPS, REDIS_CAPS);
    expect(text(source.sent)).toEqual([
      ['XINFO', 'STREAM', 'k'],
      ['XINFO', 'GROUPS', 'k'],
    ]);
    expect(text(tail)).toEqual([
      ['XSETID', 'into', '9-9'],
      ['XGROUP', 'CREATE', 'into', 'g', '1-1'],
    ]);
    const pika = fakeTransport(() => [b('last-generated-id'), b('9-9')]);
    expect(await WINDOWS.stream.tail!(pika, K, T, PIKA_CAPS, PIKA_CAPS)).toEqual([]);
    expect(text(pika.sent)).toEqual([['XINFO', 'STREAM', 'k']]);
    for (const type of ['string', 'hash', 'set', 'zset', 'list'] as const)
      expect(WINDOWS[type].tail).toBeUndefined();
  });

  it("a stream's TTL is kept only where the source's streams have one", () => {
    expect(WINDOWS.stream.ttlKept!(PIKA_CAPS)).toBe(false);
    expect(WINDOWS.stream.ttlKept!(REDIS_CAPS)).toBe(true);
    for (const type of ['string', 'hash', 'set', 'zset', 'list'] as const)
      expect(WINDOWS[type].ttlKept).toBeUndefined();
  });

  it('a shared name: hash and set are emptied by their members, a string starts over from SET ""', () => {
    expect(
      (['string', 'hash', 'set', 'zset', 'list', 'stream'] as const).filter((t) => WINDOWS[t].clearReads),
    ).toEqual(['hash', 'set']);
    expect(text(WINDOWS.string.startShared!(K))).toEqual([['SET', 'k', '']]);
    for (const type of ['hash', 'set', 'zset', 'list', 'stream'] as const)
      expect(WINDOWS[type].startShared).toBeUndefined();
  });
});
