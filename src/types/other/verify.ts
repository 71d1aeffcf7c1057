import type { ValueVerify } from '../compare/held.js';

/**
 * A module type as verify compares it: by type and TTL only (its value is never read, and it never
 * merges: the run skips it, README "What a merge does").
 */
export const otherVerify: ValueVerify = {
  same: () => true,
  contains: () => true,
  show: () => 'a module type',
  keepsTtl: () => true,
};
