import type { Strategy, StrategyTable } from '../../src/types/strategy.js';

/** A strategy table with one strategy for every type (the unit tests' shorthand). */
export function table(
  strategy: Strategy,
  typeMismatch: StrategyTable['typeMismatch'] = 'skip',
): StrategyTable {
  return {
    string: strategy,
    hash: strategy,
    set: strategy,
    zset: strategy,
    list: strategy,
    stream: strategy,
    other: strategy,
    typeMismatch,
  };
}
