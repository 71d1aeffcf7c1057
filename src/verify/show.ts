import type { DataType } from '../types/strategy.js';
import { verifyOf } from '../types/verify.js';
import type { Lifetime, Observed, Outcome } from './expect.js';

/**
 * A difference as text (SPEC §6.5: key, expected, found): each type shows its values
 * (src/types/<type>/verify.ts, a few elements of a few dozen bytes); this adds TTLs and outcomes.
 */

export function showValue(type: DataType, value: unknown): string {
  return verifyOf(type).show(value);
}

export function showTtl(ttl: Lifetime): string {
  if (ttl === 'unknown') return '';
  return ttl === null ? ', no TTL' : `, TTL ${Math.max(0, Math.round(ttl))} ms`;
}

export function showFound(found: Observed | null): string {
  return found === null ? 'no key' : `${showValue(found.type, found.value)}${showTtl(found.ttl)}`;
}

export function showExpected(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'absent':
      return 'no key';
    case 'exact':
      return `${showValue(outcome.type, outcome.value)}${showTtl(outcome.ttl)}`;
    case 'contains':
      if (outcome.merged.length === 0) return `any ${outcome.type}${showTtl(outcome.ttl)}`;
      return (
        `a ${outcome.type} that contains ` +
        outcome.merged.map((v) => showValue(outcome.type, v)).join(' then ') +
        showTtl(outcome.ttl)
      );
  }
}
