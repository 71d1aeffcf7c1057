import { describe, expect, it } from 'vitest';
import { RELATIVE_CLOCK } from '../../src/servers/clock.js';
import { type Dialect, REDIS_DIALECT } from '../../src/types/codec.js';
import { listCodec } from '../../src/types/list/codec.js';
import type { MergeOptions } from '../../src/types/strategy.js';
import { zsetCodec } from '../../src/types/zset/codec.js';
import { mergeTtlCommand } from '../../src/write/ttl.js';
import { planWrite, type WriteItem } from '../../src/write/writer.js';

const b = (s: string) => Buffer.from(s);
const key = b('k');
const opts: MergeOptions = { hashField: 'source', zsetScore: 'source', list: 'append', ttl: 'max' };
const AT = 1_000_000;

function item(partial: Partial<WriteItem>): WriteItem {
  return {
    name: key,
    type: 'string',
    source: 0,
    action: 'create',
    value: { state: 'ok', deadline: null, native: b('v') },
    targetDeadline: null,
    ...partial,
  };
}

describe('planWrite: create and override (SPEC §2.1, §2.4)', () => {
  it('dump path: RESTORE with the remaining TTL, REPLACE only for override', () => {
    const dump = b('payload');
    const created = planWrite(
      item({ value: { state: 'ok', deadline: AT + 5000, dump } }),
      { merge: opts, protoMaxBulkLen: 100, clock: RELATIVE_CLOCK },
      AT,
    );
    expect(created).toEqual({ commands: [['RESTORE', key, 5000, dump]], transaction: false });
    const replaced = planWrite(
      item({ action: 'override', value: { state: 'ok', deadline: null, dump } }),
      { merge: opts, protoMaxBulkLen: 100, clock: RELATIVE_CLOCK },
      AT,
    );
    expect(replaced).toEqual({ commands: [['RESTORE', key, 0, dump, 'REPLACE']], transaction: false });
  });

  it('a value whose lifetime ran out in flight is expired, not written', () => {
    expect(
      planWrite(
        item({ value: { state: 'ok', deadline: AT - 1, native: b('v') } }),
        { merge: opts, protoMaxBulkLen: 100, clock: RELATIVE_CLOCK },
        AT,
      ),
    ).toEqual({ status: 'expired' });
  });

  it('a payload over proto-max-bulk-len goes native for that key only', () => {
    const planned = planWrite(
      item({ value: { state: 'ok', deadline: null, dump: Buffer.alloc(101) } }),
      { merge: opts, protoMaxBulkLen: 100, clock: RELATIVE_CLOCK },
      AT,
    );
    expect(planned).toEqual({
      status: 'native',
      reason: 'payload over the target proto-max-bulk-len',
      wholeRun: false,
    });
  });

  it('native string: one SET with PX, atomic for override of any type', () => {
    expect(
      planWrite(
        item({ action: 'override', value: { state: 'ok', deadline: AT + 42, native: b('v') } }),
        { merge: opts, protoMaxBulkLen: 100, clock: RELATIVE_CLOCK },
        AT,
      ),
    ).toEqual({
      commands: [['SET', key, b('v'), 'PX', 42]],
      transaction: false,
    });
  });

  it('native override of a collection: DEL, write and PEXPIRE in one transaction', () => {
    const planned = planWrite(
      item({
        type: 'set',
        action: 'override',
        value: { state: 'ok', deadline: AT + 10, native: [b('a'), b('b')] },
      }),
      { merge: opts, protoMaxBulkLen: 100, clock: RELATIVE_CLOCK },
      AT,
    );
    expect(planned).toEqual({
      commands: [
        ['DEL', key],
        ['SADD', key, b('a'), b('b')],
        ['PEXPIRE', key, 10],
      ],
      transaction: true,
    });
  });

  it('a module type without a payload fails rather than being dropped', () => {
    const planned = planWrite(
      item({ type: 'other', value: { state: 'ok', deadline: null, native: undefined } }),
      { merge: opts, protoMaxBulkLen: 100, clock: RELATIVE_CLOCK },
      AT,
    );
    expect(planned).toMatchObject({ status: 'failed' });
  });
});

describe('merge commands (SPEC §1.4)', () => {
  it('list prepend keeps source order before the target elements', () => {
    const cmds = listCodec.merge(key, [b('x'), b('y'), b('z')], { ...opts, list: 'prepend' });
    expect(cmds).toEqual([['LPUSH', key, b('z'), b('y'), b('x')]]);
  });

  it('list union appends each element the list does not hold at that moment', () => {
    const cmds = listCodec.merge(key, [b('b'), b('a'), b('b')], { ...opts, list: 'union' }, [b('a')]);
    expect(cmds).toEqual([['RPUSH', key, b('b')]]);
  });

  it('zset score rules map to ZADD flags or ZINCRBY', () => {
    const pairs = [b('1'), b('m')];
    expect(zsetCodec.merge(key, pairs, { ...opts, zsetScore: 'max' })).toEqual([
      ['ZADD', key, 'GT', b('1'), b('m')],
    ]);
    expect(zsetCodec.merge(key, pairs, { ...opts, zsetScore: 'min' })).toEqual([
      ['ZADD', key, 'LT', b('1'), b('m')],
    ]);
    expect(zsetCodec.merge(key, pairs, { ...opts, zsetScore: 'target' })).toEqual([
      ['ZADD', key, 'NX', b('1'), b('m')],
    ]);
    expect(zsetCodec.merge(key, pairs, { ...opts, zsetScore: 'sum' })).toEqual([
      ['ZINCRBY', key, b('1'), b('m')],
    ]);
  });
});

describe('mergeTtlCommand (SPEC §1.5)', () => {
  const cases: [MergeOptions['ttl'], number | null, number | null, unknown][] = [
    ['max', null, AT + 10, ['PERSIST', key]],
    ['max', AT + 10, null, null],
    ['max', AT + 20, AT + 10, ['PEXPIRE', key, 20]],
    ['max', AT + 5, AT + 10, null],
    ['min', null, null, null],
    ['min', AT + 5, null, ['PEXPIRE', key, 5]],
    ['min', null, AT + 5, null],
    ['min', AT + 5, AT + 10, ['PEXPIRE', key, 5]],
    ['source', null, AT + 10, ['PERSIST', key]],
    ['source', AT + 7, null, ['PEXPIRE', key, 7]],
    ['target', AT + 7, null, null],
  ];
  for (const [rule, source, target, expected] of cases) {
    it(`${rule}: source ${source === null ? 'no expiry' : source - AT} / target ${target === null ? 'no expiry' : target - AT}`, () => {
      expect(mergeTtlCommand(key, rule, source, target, AT)).toEqual(expected);
    });
  }
});

describe('a merge with nothing to send', () => {
  it('list union that adds nothing plans no command (and the writer counts it as applied)', () => {
    const planned = planWrite(
      item({
        type: 'list',
        action: 'merge',
        value: { state: 'ok', deadline: null, native: [b('y')] },
        current: [b('y')],
      }),
      { merge: { ...opts, list: 'union' }, protoMaxBulkLen: 100, clock: RELATIVE_CLOCK },
      AT,
    );
    expect(planned).toEqual({ commands: [], transaction: false });
  });
});

describe('lifetimes on the target clock (SPEC §1.5: time in flight never lengthens a TTL)', () => {
  const clock = { offset: 1_700_000_000_000, setPxat: true, granularityMs: 1 };
  it('RESTORE carries an absolute expiry with ABSTTL', () => {
    const dump = b('p');
    expect(
      planWrite(
        item({ value: { state: 'ok', deadline: AT + 5000.7, dump } }),
        { merge: opts, protoMaxBulkLen: 100, clock },
        AT,
      ),
    ).toEqual({
      commands: [['RESTORE', key, 1_700_000_000_000 + AT + 5000, dump, 'ABSTTL']],
      transaction: false,
    });
  });
  it('SET uses PXAT, or SET + PEXPIREAT in a transaction on servers before 6.2', () => {
    const value = { state: 'ok' as const, deadline: AT + 10, native: b('v') };
    expect(planWrite(item({ value }), { merge: opts, protoMaxBulkLen: 100, clock }, AT)).toEqual({
      commands: [['SET', key, b('v'), 'PXAT', clock.offset + AT + 10]],
      transaction: false,
    });
    expect(
      planWrite(
        item({ value }),
        { merge: opts, protoMaxBulkLen: 100, clock: { ...clock, setPxat: false } },
        AT,
      ),
    ).toEqual({
      commands: [
        ['SET', key, b('v')],
        ['PEXPIREAT', key, clock.offset + AT + 10],
      ],
      transaction: true,
    });
  });
  it('a merged TTL is set with PEXPIREAT', () => {
    expect(mergeTtlCommand(key, 'source', AT + 7, null, AT, clock)).toEqual([
      'PEXPIREAT',
      key,
      clock.offset + AT + 7,
    ]);
  });
});

describe('planWrite: a hash value’s own field expiries (Redis 7.4+ HPEXPIRE)', () => {
  const fieldTtls: Dialect = { ...REDIS_DIALECT, hashFieldTtls: true };
  const hashValue = {
    state: 'ok' as const,
    deadline: null,
    native: [b('a'), b('1'), b('b'), b('2'), b('c'), b('3')],
    fieldDeadlines: [
      [b('a'), AT + 5000],
      [b('b'), AT + 9000],
      [b('c'), AT + 5000],
    ] as [Buffer, number][],
  };
  const write = (
    partial: Partial<WriteItem>,
    dialect = fieldTtls,
    clock = RELATIVE_CLOCK,
    hashField = 'source',
  ) =>
    planWrite(
      item({ type: 'hash', value: hashValue, ...partial }),
      { merge: { ...opts, hashField: hashField as 'source' }, protoMaxBulkLen: 100, clock, dialect },
      AT,
    );

  it('follow the fields on create, override and merge, grouped by time, relative or on the target clock', () => {
    const relative = [
      ['HPEXPIRE', key, 5000, 'FIELDS', 2, b('a'), b('c')],
      ['HPEXPIRE', key, 9000, 'FIELDS', 1, b('b')],
    ];
    expect(write({})).toEqual({
      commands: [['HSET', key, ...hashValue.native], ...relative],
      transaction: true,
    });
    expect(write({ action: 'override' })).toMatchObject({
      commands: [['DEL', key], expect.anything(), ...relative],
    });
    expect(write({ action: 'merge' })).toMatchObject({ commands: [expect.anything(), ...relative] });
    const clock = { offset: 1_700_000_000_000 - AT, setPxat: true, granularityMs: 1 };
    expect(write({}, fieldTtls, clock)).toMatchObject({
      commands: [
        expect.anything(),
        ['HPEXPIREAT', key, 1_700_000_005_000, 'FIELDS', 2, b('a'), b('c')],
        expect.anything(),
      ],
    });
  });

  it('are not sent to a target without field TTLs, nor with a merge that keeps the target’s fields', () => {
    expect(write({}, REDIS_DIALECT)).toEqual({
      commands: [['HSET', key, ...hashValue.native]],
      transaction: false,
    });
    const kept = write({ action: 'merge' }, fieldTtls, RELATIVE_CLOCK, 'target');
    expect('commands' in kept && kept.commands.every(([name]) => name === 'HSETNX')).toBe(true);
  });
});
