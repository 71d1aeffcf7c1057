import { describe, expect, it } from 'vitest';
import { decide, foldTypes, typeAfter } from '../../src/run/decide.js';
import {
  DATA_TYPES,
  type DataType,
  MISMATCH_POLICIES,
  STRATEGIES,
  type StrategyTable,
} from '../../src/types/strategy.js';
import { table } from './strategy-table.js';

const TYPES: DataType[] = [...DATA_TYPES, 'other'];

describe('decide: one step of the fold (SPEC §1.2)', () => {
  for (const type of TYPES) {
    for (const strategy of STRATEGIES) {
      for (const policy of MISMATCH_POLICIES) {
        const t = table(strategy, policy);
        it(`${type} with ${strategy} / mismatch ${policy}: an absent target key is created`, () => {
          expect(decide(type, null, t)).toEqual({ action: 'create', conflict: false, typeMismatch: false });
        });
        it(`${type} with ${strategy} / mismatch ${policy}: a same-type target key gets the type's strategy`, () => {
          expect(decide(type, type, t)).toEqual({ action: strategy, conflict: true, typeMismatch: false });
        });
        for (const other of TYPES.filter((o) => o !== type)) {
          it(`${type} over a ${other} with ${strategy} / mismatch ${policy}: the mismatch policy applies`, () => {
            expect(decide(type, other, t)).toEqual({ action: policy, conflict: true, typeMismatch: true });
          });
        }
      }
    }
  }

  it('uses the strategy of the incoming value type, not of the target', () => {
    const t: StrategyTable = { ...table('skip'), hash: 'merge', set: 'override' };
    expect(decide('hash', 'hash', t).action).toBe('merge');
    expect(decide('set', 'set', t).action).toBe('override');
    expect(decide('list', 'list', t).action).toBe('skip');
  });
});

describe('foldTypes: predicting the target type without writing (the dry run)', () => {
  it('an empty target takes the first holder type, then later holders per strategy', () => {
    expect(foldTypes(null, ['hash'], table('skip'))).toBe('hash');
    expect(foldTypes(null, ['hash', 'string'], table('skip', 'override'))).toBe('string');
    expect(foldTypes(null, ['hash', 'string'], table('skip', 'skip'))).toBe('hash');
  });

  it('a failed mismatch leaves the target as it was', () => {
    expect(typeAfter('string', 'hash', table('override', 'fail'))).toBe('hash');
    expect(foldTypes('list', ['set', 'zset'], table('merge', 'fail'))).toBe('list');
  });

  it('merge and skip keep the type, override of the same type keeps it too', () => {
    for (const s of STRATEGIES) expect(foldTypes('zset', ['zset', 'zset'], table(s))).toBe('zset');
  });

  it('no holders: the target type is unchanged', () => {
    expect(foldTypes('set', [], table('override'))).toBe('set');
    expect(foldTypes(null, [], table('override'))).toBe(null);
  });
});
