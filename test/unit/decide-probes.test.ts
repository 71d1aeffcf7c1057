import { describe, expect, it } from 'vitest';
import type { KeyProbe } from '../../src/probe/probe.js';
import { type DecideContext, decideProbes } from '../../src/run/decide.js';
import type { DataType } from '../../src/types/strategy.js';
import { table } from './strategy-table.js';

/** A probe of key `k` of type `type` that no earlier source holds and the target lacks. */
function probe(key: string, type: DataType | null, more: Partial<KeyProbe> = {}): KeyProbe {
  return {
    sourceKey: Buffer.from(key),
    targetKey: Buffer.from(`p:${key}`),
    type,
    targetType: null,
    targetTypes: [],
    sourceTypes: type === null ? [] : [type],
    earlier: [],
    earlierHolders: 0,
    ...more,
  };
}

function context(more: Partial<DecideContext> = {}): DecideContext {
  return {
    sourceIndex: 1,
    sourceName: 'b',
    table: table('merge'),
    dryRun: false,
    target: { multiTypeNames: false, nulInKeys: true, kind: 'redis', version: '7.0.15' },
    ...more,
  };
}

describe('decideProbes: a batch of probes turned into steps (pure)', () => {
  it('a key gone from the source ends expired under type none; a question about it ends nowhere', () => {
    const { ended, toWrite, later } = decideProbes(
      [probe('gone', null, { targetType: 'hash' }), probe('asked', null, { ifHeld: true })],
      context(),
    );
    expect(toWrite).toEqual([]);
    expect(later).toEqual([]);
    expect(ended).toHaveLength(1);
    expect(ended[0]!.outcome).toMatchObject({
      sourceIndex: 1,
      key: Buffer.from('p:gone'),
      type: 'none',
      targetType: 'hash',
      decision: { action: 'expired' },
    });
    expect(ended[0]!.failure).toBeUndefined();
  });

  it('creates and merges are to be written, in probe order; a skip ends at the decision', () => {
    const { ended, toWrite } = decideProbes(
      [
        probe('new', 'hash'),
        probe('both', 'set', { targetType: 'set' }),
        probe('kept', 'string', { targetType: 'string' }),
      ],
      context({ table: { ...table('merge'), string: 'skip' } }),
    );
    expect(toWrite.map((s) => [s.probe.sourceKey.toString(), s.decision.action])).toEqual([
      ['new', 'create'],
      ['both', 'merge'],
    ]);
    expect(ended.map((e) => [e.outcome.key.toString(), e.outcome.decision.action])).toEqual([
      ['p:kept', 'skip'],
    ]);
  });

  it('a typeMismatch fail in a real run is a failed key that stops the run, naming the source and both types', () => {
    const { ended, toWrite } = decideProbes(
      [probe('k', 'string', { targetType: 'hash' })],
      context({ table: table('merge', 'fail') }),
    );
    expect(toWrite).toEqual([]);
    expect(ended[0]!.outcome.decision).toEqual({ action: 'fail', conflict: true, typeMismatch: true });
    expect(ended[0]!.failure).toMatchObject({ type: 'string', stops: true });
    expect(ended[0]!.failure!.reason).toMatch(
      /type mismatch at "p:k": source b holds a string, the target a hash/,
    );
  });

  it('a dry run counts the same fail but lists no failed key, and writes nothing', () => {
    const { ended, toWrite } = decideProbes(
      [probe('k', 'string', { targetType: 'hash' }), probe('n', 'set')],
      context({ table: table('merge', 'fail'), dryRun: true }),
    );
    expect(toWrite).toEqual([]);
    expect(ended.map((e) => e.outcome.decision.action)).toEqual(['fail', 'create']);
    expect(ended.every((e) => e.failure === undefined)).toBe(true);
  });

  it('a dry run folds the earlier sources over the target to predict the step', () => {
    // The target lacks the key, an earlier source holds it as a hash: this string meets a hash.
    const { ended } = decideProbes(
      [probe('k', 'string', { earlier: ['hash'], earlierHolders: 1 })],
      context({ table: table('merge', 'override'), dryRun: true }),
    );
    expect(ended[0]!.outcome).toMatchObject({
      targetType: 'hash',
      decision: { action: 'override', conflict: true, typeMismatch: true },
      sourceOverlap: true,
    });
  });

  it('a real run decides on the target as probed, not on the earlier sources', () => {
    const { toWrite } = decideProbes(
      [probe('k', 'string', { earlier: ['hash'], earlierHolders: 1 })],
      context({ table: table('merge', 'override') }),
    );
    expect(toWrite[0]).toMatchObject({ targetType: null, decision: { action: 'create' }, overlap: true });
  });

  it('a name holding two types (Pika 3.x): a real run leaves the second type to a later round', () => {
    const both = { sourceTypes: ['hash', 'string'] as DataType[], earlierHolders: 1 };
    const { toWrite, later } = decideProbes(
      [probe('k', 'hash', both), probe('k', 'string', both)],
      context(),
    );
    expect(toWrite.map((s) => s.type)).toEqual(['hash']);
    expect(later).toEqual([{ key: Buffer.from('k'), type: 'string' }]);
    // The name's overlap is counted once, on its first type.
    expect(toWrite[0]!.overlap).toBe(true);
  });

  it('a name holding two types: a dry run folds the first type into the second one', () => {
    const both = { sourceTypes: ['hash', 'string'] as DataType[], earlierHolders: 1 };
    const { ended, later } = decideProbes(
      [probe('k', 'hash', both), probe('k', 'string', both)],
      context({ table: table('merge', 'skip'), dryRun: true }),
    );
    expect(later).toEqual([]);
    expect(ended.map((e) => [e.outcome.type, e.outcome.targetType, e.outcome.decision.action])).toEqual([
      ['hash', null, 'create'],
      ['string', 'hash', 'skip'],
    ]);
    expect(ended.map((e) => e.outcome.sourceOverlap)).toEqual([true, false]);
  });

  it('on a target that keeps types side by side, a dry run folds only the same type', () => {
    const both = { sourceTypes: ['hash', 'string'] as DataType[] };
    const { ended } = decideProbes(
      [probe('k', 'hash', both), probe('k', 'string', both)],
      context({
        dryRun: true,
        target: { multiTypeNames: true, nulInKeys: true, kind: 'pika', version: '3.5.0' },
      }),
    );
    expect(ended.map((e) => e.outcome.decision.action)).toEqual(['create', 'create']);
  });

  it('a key the target cannot take (a NUL byte) fails without stopping the run; a skip of it is still a skip', () => {
    const target = { multiTypeNames: false, nulInKeys: false, kind: 'pika' as const, version: '3.3.6' };
    const { ended, toWrite } = decideProbes(
      [probe('a\0b', 'set'), probe('c\0d', 'set', { targetType: 'set' })],
      context({ target, table: { ...table('merge'), set: 'skip' } }),
    );
    expect(toWrite).toEqual([]);
    expect(ended.map((e) => e.outcome.decision.action)).toEqual(['fail', 'skip']);
    expect(ended[0]!.failure).toEqual({
      type: 'set',
      reason: 'the target (pika 3.3.6) cuts keys at a NUL byte',
      stops: false,
    });
  });

  it('in a dry run, a key the target cannot take is counted failed but not listed', () => {
    const target = { multiTypeNames: false, nulInKeys: false, kind: 'pika' as const, version: '3.3.6' };
    const { ended } = decideProbes([probe('a\0b', 'set')], context({ target, dryRun: true }));
    expect(ended[0]!.outcome.decision.action).toBe('fail');
    expect(ended[0]!.failure).toBeUndefined();
  });
});
