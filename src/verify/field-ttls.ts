import type { Caps } from '../servers/caps.js';
import { showBytes } from '../types/verify.js';
import { decodePayload } from '../write/rdb-payload.js';

/**
 * Hash field TTLs (HPEXPIRE, Redis 7.4+) as verify compares them. A hash copied by DUMP/RESTORE keeps
 * its fields' TTLs; the native path and every hash merge (HSET) drop them (README "Write paths"). So
 * they are compared where the outcome is one value kept whole (created or overridden from a source,
 * or a journaled prior kept), both that value's server and the target keep field TTLs, and the run
 * did not write natively (`write.mode: native`). They are read with DUMP beside HGETALL, whose payload
 * carries each field's absolute expiry (write/rdb-payload.ts); verify's reads stay read commands.
 */

/** Field → absolute expiry (Unix ms), for the fields that have one. */
export type FieldTtls = Map<string, number>;

/** Redis 7.4 and later keep a TTL per hash field (servers/caps.ts). */
export function keepsFieldTtls(caps: Pick<Caps, 'hashFieldTtls'>): boolean {
  return caps.hashFieldTtls;
}

/** The field TTLs in a DUMP payload of a hash; undefined where it cannot be read (then not compared). */
export function fieldTtlsOf(payload: unknown): FieldTtls | undefined {
  if (!Buffer.isBuffer(payload)) return undefined;
  try {
    const { fieldExpiries = [] } = decodePayload(payload);
    return new Map(fieldExpiries.map(([field, at]) => [field.toString('latin1'), at]));
  } catch {
    return undefined;
  }
}

/**
 * The first field whose TTL differs by more than `tolerance` ms (or is there on one side only), as
 * display text, or null.
 */
export function fieldTtlMismatch(
  expected: FieldTtls,
  found: FieldTtls,
  tolerance: number,
): { expected: string; found: string } | null {
  const now = Date.now();
  const show = (field: string, at: number | undefined): string =>
    `field ${showBytes(Buffer.from(field, 'latin1'))} ${at === undefined ? 'without TTL' : `TTL ${Math.max(0, at - now)} ms`}`;
  for (const field of new Set([...expected.keys(), ...found.keys()])) {
    const want = expected.get(field);
    const have = found.get(field);
    if (want === undefined || have === undefined ? want !== have : Math.abs(want - have) > tolerance) {
      return { expected: show(field, want), found: show(field, have) };
    }
  }
  return null;
}
