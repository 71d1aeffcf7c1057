import type { Command } from '../../servers/resp.js';
import type { MergeOptions } from '../../types/strategy.js';
import { type Held, type HeldOutcome, id, PRESENT, type WindowedVerify } from '../compare/held.js';
import { compareKeyed, firstSeenPairs, type Keyed, splitPairs } from '../compare/keyed.js';
import { flatPairs, items, showBytes } from '../compare/show.js';
import { hashCodec } from './codec.js';

/** A hash as verify compares it: field → value, in the codec's flat layout (field, value, …). */

function fieldMap(flat: Buffer[]): Map<string, string> {
  const { fields, values } = splitPairs(flat, 0);
  return new Map(fields.map((f, i) => [id(f), id(values[i]!)]));
}

const keyed: Keyed = {
  type: 'hash',
  elements: 'fields',
  split: (window) => splitPairs(window, 0),
  sameField: (a, b) => a.equals(b),
  // The codec's own merge step, on a one-field value.
  mergeField: (current, incoming, opts) =>
    hashCodec.mergeValues([PRESENT, current], [PRESENT, incoming], opts)[1]!,
  showField: (field, value) =>
    value === null ? `no field ${showBytes(field)}` : `${showBytes(field)}: ${showBytes(value)}`,
  allows(have, given, opts) {
    const last = given[given.length - 1]!;
    return { ok: opts.hashField !== 'source' || have.equals(last), want: last, rule: '' };
  },
};

export const hashVerify: WindowedVerify = {
  same(a, b) {
    const x = fieldMap(a as Buffer[]);
    const y = fieldMap(b as Buffer[]);
    return x.size === y.size && [...x].every(([k, v]) => y.get(k) === v);
  },
  /** Every merged field is there (`hashField: source`: with the last source's value). */
  contains(found, merged, opts: MergeOptions) {
    const held = fieldMap(found as Buffer[]);
    const wanted = new Map<string, string>();
    for (const v of merged) for (const [f, val] of fieldMap(v as Buffer[])) wanted.set(f, val);
    return [...wanted].every(
      ([f, val]) => held.has(f) && (opts.hashField !== 'source' || held.get(f) === val),
    );
  },
  show: (value) =>
    `hash {${items(flatPairs(value as Buffer[], 0, (f, v) => `${showBytes(f)}: ${showBytes(v)}`))}}`,
  keepsTtl: () => true,
  fieldTtls: true,
  /** The journal keeps [field, value][]. */
  fromImage: (image) =>
    Array.isArray(image) && Array.isArray(image[0]) ? (image as Buffer[][]).flat() : image,
  elements: keyed.elements,
  size: (value) => hashCodec.size(value as Buffer[]),
  windowsOf: (value) => [value as Buffer[]],
  windowSize: (window) => window.length / 2,
  firstSeen: (window, seen) => firstSeenPairs(window, seen, 0),
  split: keyed.split,
  lookup: {
    commands: (key, fields): Command[] => [['HMGET', key, ...fields]],
    answers: ([reply], fields) =>
      Array.isArray(reply) ? (reply as (Buffer | null)[]) : fields.map(() => null),
  },
  compare: (found: Held, outcome: HeldOutcome, opts) => compareKeyed(keyed, found, outcome, opts),
};
