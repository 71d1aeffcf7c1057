import type { Command } from '../../servers/resp.js';
import { id, PRESENT, type WindowedVerify } from '../compare/held.js';
import { compareKeyed, type Keyed } from '../compare/keyed.js';
import { items, showBytes, sorted } from '../compare/show.js';
import { setCodec } from './codec.js';

/** A set as verify compares it: its members, each with the mark PRESENT where a keyed value has one. */

const members = (value: unknown): Set<string> => new Set((value as Buffer[]).map(id));

const keyed: Keyed = {
  type: 'set',
  elements: 'members',
  split: (window) => ({ fields: window, values: window.map(() => PRESENT) }),
  sameField: (a, b) => a.equals(b),
  mergeField: () => PRESENT,
  showField: (member, value) => `${value === null ? 'no member' : 'member'} ${showBytes(member)}`,
  // Any member merged is all `contains` asks of a set.
  allows: (_have, given) => ({ ok: true, want: given[given.length - 1]!, rule: '' }),
};

export const setVerify: WindowedVerify = {
  same(a, b) {
    const x = members(a);
    const y = members(b);
    return x.size === y.size && [...x].every((m) => y.has(m));
  },
  /** Every member merged is there. */
  contains(found, merged) {
    const held = members(found);
    return merged.every((v) => (v as Buffer[]).every((m) => held.has(id(m))));
  },
  show: (value) => `set {${items(sorted(value as Buffer[]).map(showBytes))}}`,
  keepsTtl: () => true,
  elements: keyed.elements,
  size: (value) => setCodec.size(value as Buffer[]),
  windowsOf: (value) => [value as Buffer[]],
  windowSize: (window) => window.length,
  firstSeen: (window, seen) => window.filter((m) => seen.add(m)),
  split: keyed.split,
  lookup: {
    // One command per member: SMISMEMBER is Redis 6.2+ and not on Pika.
    commands: (key, fields) => fields.map((f): Command => ['SISMEMBER', key, f]),
    answers: (replies) => replies.map((r) => (r === 1 ? PRESENT : null)),
  },
  compare: (found, outcome, opts) => compareKeyed(keyed, found, outcome, opts),
};
