import type { Caps } from '../servers/caps.js';
import type { Command, Reply } from '../servers/resp.js';
import { DATA_TYPES, type DataType } from './strategy.js';

/**
 * What TYPE, PTYPE and their companions answer, as data types: one reading shared by the probe, the
 * writer's reads, the big-key copy and the journal, so that they agree on what a name holds.
 */

const KNOWN = new Set<string>(DATA_TYPES);

/**
 * The order in which the types of one name are folded where a name holds several (Pika 3.x): the
 * order Pika's own TYPE ranks them in (string > hash > list > zset > set), then stream.
 */
export const TYPE_ORDER: readonly DataType[] = ['string', 'hash', 'list', 'zset', 'set', 'stream'];

export function typeFromReply(reply: unknown): DataType | null {
  if (Buffer.isBuffer(reply)) {
    const known = knownType(reply);
    if (known !== undefined) return known;
  }
  const name = String(reply);
  if (name === 'none') return null;
  // Pika 4's TYPE names a stream `streams`.
  if (name === 'streams') return 'stream';
  return KNOWN.has(name) ? (name as DataType) : 'other';
}

/**
 * TYPE's common replies told from their bytes, undefined for any other: a string made of every reply
 * costs more than the rest of the probe on small keys (one TYPE per key of the run). A module type's
 * name has 9 characters, so lengths 3 to 6 are the built-in names, checked by first and last byte.
 */
function knownType(reply: Buffer): DataType | null | undefined {
  const first = reply[0];
  const last = reply[reply.length - 1];
  switch (reply.length) {
    case 3:
      return first === 0x73 && last === 0x74 ? 'set' : undefined; // set
    case 4:
      if (last === 0x65 && first === 0x6e) return null; // none
      if (last === 0x68 && first === 0x68) return 'hash';
      if (last === 0x74 && first === 0x6c) return 'list';
      if (last === 0x74 && first === 0x7a) return 'zset';
      return undefined;
    case 6:
      if (first !== 0x73) return undefined;
      if (last === 0x67) return 'string';
      if (last === 0x6d) return 'stream';
      return undefined;
    default:
      return undefined;
  }
}

type TypeCaps = Pick<Caps, 'multiTypeNames' | 'staleType'>;

/**
 * The commands that tell which types a name holds: TYPE (and EXISTS and XLEN where TYPE can name a
 * deleted key's type), or where a name holds several, PTYPE (which lists them) and XLEN (Pika 3.x streams
 * show in neither TYPE nor PTYPE).
 */
export function typeAsks(caps: TypeCaps, key: Buffer): Command[] {
  if (caps.multiTypeNames) {
    return [
      ['PTYPE', key],
      ['XLEN', key],
    ];
  }
  return caps.staleType
    ? [
        ['TYPE', key],
        ['EXISTS', key],
        ['XLEN', key],
      ]
    : [['TYPE', key]];
}

/**
 * The type a TYPE reply names, given the EXISTS reply asked beside it (Pika 4.0's TYPE may name the
 * type of a deleted key, servers/caps.ts staleType): EXISTS 0 rules out any type but a stream.
 */
export function typeBesideExists(type: Reply | undefined, exists: Reply | undefined): DataType | null {
  const named = typeFromReply(type);
  return named === null || (exists === 0 && named !== 'stream') ? null : named;
}

export const typeAskCount = (caps: TypeCaps): number => (caps.multiTypeNames ? 2 : caps.staleType ? 3 : 1);

/**
 * The types of a name that holds at most one, as a list: one shared, frozen list per type, since the
 * probe makes one for every key of a run (issue 20: fewer objects per key).
 */
export function typeList(type: DataType | null): readonly DataType[] {
  return type === null ? NO_TYPES : ONE_TYPE[type];
}

const NO_TYPES: readonly DataType[] = Object.freeze([]);
const ONE_TYPE = Object.fromEntries(DATA_TYPES.map((t) => [t, Object.freeze([t])])) as Record<
  DataType,
  readonly DataType[]
>;

export function typesFrom(caps: TypeCaps, replies: Reply[], at: number): readonly DataType[] {
  if (!caps.multiTypeNames) {
    const type = typeFromReply(value(replies[at]));
    if (caps.staleType) {
      // A deleted key lingers in TYPE (and a deleted stream in EXISTS too) on Pika 4.0: only a key
      // that EXISTS, and for a stream one with entries, is there.
      if (value(replies[at + 1]) === 0) return NO_TYPES;
      if (type === 'stream' && replies[at + 2] === 0) return NO_TYPES;
    }
    return typeList(type);
  }
  const listed = value(replies[at]);
  const held = new Set<DataType>();
  for (const name of Array.isArray(listed) ? listed : []) {
    const type = typeFromReply(name);
    if (type) held.add(type);
  }
  // A deleted stream keeps answering XLEN 0 on Pika 3.5, and an emptied one leaves SCAN: only
  // entries make a stream there.
  const entries = replies[at + 1];
  if (typeof entries === 'number' && entries > 0) held.add('stream');
  return TYPE_ORDER.filter((t) => held.has(t));
}

/** A pipeline reply's value; an error reply for a probe is a fault of the server or the user's rights. */
export function value(reply: Reply | undefined): Reply {
  if (reply === undefined) throw new Error('pipeline returned fewer replies than commands');
  if (reply instanceof Error) throw reply;
  return reply;
}
