import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/servers/resp.js';
import { keepsTtl, TYPES } from '../../src/types/index.js';
import { listLostMerge } from '../../src/types/list/lost-merge.js';
import { zsetLostMerge } from '../../src/types/zset/lost-merge.js';

const limits = { bigKeyElements: 10, bigKeyBytes: 1000 };

describe('TYPES.isBig', () => {
  it('a string is big by its bytes, whatever its memory', () => {
    expect(TYPES.string.isBig(1000, limits)).toBe(false);
    expect(TYPES.string.isBig(1001, limits)).toBe(true);
    // 11 bytes is over the element limit but a string counts bytes.
    expect(TYPES.string.isBig(11, limits)).toBe(false);
    expect(TYPES.string.isBig(500, limits, 5000)).toBe(false);
  });

  it.each(['hash', 'set', 'zset', 'list', 'stream'] as const)(
    'a %s is big by its elements or its memory',
    (type) => {
      expect(TYPES[type].isBig(10, limits)).toBe(false);
      expect(TYPES[type].isBig(11, limits)).toBe(true);
      expect(TYPES[type].isBig(5, limits, 1000)).toBe(false);
      expect(TYPES[type].isBig(5, limits, 1001)).toBe(true);
    },
  );
});

describe('keepsTtl', () => {
  it('a stream keeps no TTL where the server keeps none on streams (Pika)', () => {
    expect(keepsTtl('stream', { streamTtl: false })).toBe(false);
    expect(keepsTtl('stream', { streamTtl: true })).toBe(true);
  });

  it.each(['string', 'hash', 'set', 'zset', 'list', 'other'] as const)(
    'a %s keeps its TTL everywhere',
    (type) => {
      expect(keepsTtl(type, { streamTtl: false })).toBe(true);
    },
  );
});

describe('lost merge checks', () => {
  it('only lists and zsets have one: the other merges are sent again', () => {
    expect(TYPES.list.lostMerge).toBe(listLostMerge);
    expect(TYPES.zset.lostMerge).toBe(zsetLostMerge);
    for (const type of ['string', 'hash', 'set', 'stream'] as const)
      expect(TYPES[type].lostMerge).toBeUndefined();
  });

  it('a list push is applied when LLEN grew by what it pushed, not when unchanged, else unknown', () => {
    const key = Buffer.from('k');
    const commands: Command[] = [
      ['RPUSH', key, 'a', 'b'],
      ['LPUSH', key, 'c'],
    ];
    const known = { key, targetLength: 4 };
    expect(listLostMerge.reads(commands, known)).toEqual([['LLEN', key]]);
    expect(listLostMerge.judge(commands, known, [7])).toBe('applied');
    expect(listLostMerge.judge(commands, known, [4])).toBe('not applied');
    expect(listLostMerge.judge(commands, known, [5])).toBe('unknown');
    expect(listLostMerge.reads(commands, { key })).toEqual([]);
    expect(listLostMerge.judge(commands, { key }, [])).toBe('unknown');
    expect(listLostMerge.lengthBefore?.of([Buffer.from('x')])).toBe(1);
  });

  it('a zset sum is applied when every score moved by its increment; other score rules are re-sent', () => {
    const key = Buffer.from('z');
    const sum: Command[] = [
      ['ZINCRBY', key, '2', 'm'],
      ['ZINCRBY', key, '1.5', 'n'],
    ];
    expect(zsetLostMerge.readBefore(sum)).toEqual([
      ['ZSCORE', key, 'm'],
      ['ZSCORE', key, 'n'],
    ]);
    const known = { key, before: [Buffer.from('1'), null] };
    expect(zsetLostMerge.judge(sum, known, [Buffer.from('3'), Buffer.from('1.5')])).toBe('applied');
    expect(zsetLostMerge.judge(sum, known, [Buffer.from('1'), null])).toBe('not applied');
    expect(zsetLostMerge.judge(sum, known, [Buffer.from('3'), null])).toBe('unknown');
    expect(zsetLostMerge.judge(sum, { key }, [])).toBe('unknown');
    expect(zsetLostMerge.reads([['ZADD', key, 'GT', '1', 'm']], { key })).toBeNull();
    expect(zsetLostMerge.readBefore([['ZADD', key, '1', 'm']])).toEqual([]);
  });
});
