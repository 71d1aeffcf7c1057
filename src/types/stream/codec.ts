import type { Caps } from '../../servers/caps.js';
import type { Command } from '../../servers/resp.js';
import { type NativeCodec, REDIS_DIALECT } from '../codec.js';

export interface StreamValue {
  /** Entries in id order: id, then field, value, field, value, … */
  entries: [Buffer, Buffer[]][];
  lastId: Buffer | null;
  /** Consumer groups (name, last-delivered id); their pending lists are only kept by DUMP/RESTORE. */
  groups: [Buffer, Buffer][];
}

/** Reads `name` out of the flat field/value array that XINFO replies with. */
function field(flat: unknown, name: string): unknown {
  if (!Array.isArray(flat)) return undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) if (String(flat[i]) === name) return flat[i + 1];
  return undefined;
}

/** Pika keeps no TTL on a stream (servers/caps.ts, `streamTtl` false): its PTTL says nothing there. */
export const keepsStreamTtl = (caps: Partial<Pick<Caps, 'streamTtl'>>): boolean => caps.streamTtl !== false;

export const streamCodec: NativeCodec<StreamValue> = {
  type: 'stream',
  count: (key) => ['XLEN', key],
  // Where the server has no consumer groups (Pika: XINFO GROUPS never answers there), none is asked.
  read: (key, dialect = REDIS_DIALECT) => [
    ['XRANGE', key, '-', '+'],
    ['XINFO', 'STREAM', key],
    ...(dialect.streamGroups ? [['XINFO', 'GROUPS', key] as Command] : []),
  ],
  decode([range, info, groups]) {
    if (!Array.isArray(info)) return null; // XINFO on a missing key is an error: the stream is gone
    const entries = (Array.isArray(range) ? range : []) as [Buffer, Buffer[]][];
    const lastId = field(info, 'last-generated-id');
    const groupList: [Buffer, Buffer][] = [];
    if (Array.isArray(groups)) {
      for (const g of groups) {
        const name = field(g, 'name');
        const delivered = field(g, 'last-delivered-id');
        if (Buffer.isBuffer(name) && Buffer.isBuffer(delivered)) groupList.push([name, delivered]);
      }
    }
    return { entries, lastId: Buffer.isBuffer(lastId) ? lastId : null, groups: groupList };
  },
  write(key, value, dialect = REDIS_DIALECT) {
    const out: Command[] = value.entries.map(([id, fields]) => ['XADD', key, id, ...fields] as Command);
    if (value.entries.length === 0 && value.lastId) {
      // A stream with no entries still exists (and has a last id): add one entry and trim it away.
      out.push(['XADD', key, 'MAXLEN', '0', value.lastId, 'kvmerge', '']);
    }
    // A target without XSETID/XGROUP (Pika) keeps the entries; its last id is the last entry's.
    if (!dialect.streamGroups) return out;
    if (value.lastId) out.push(['XSETID', key, value.lastId]);
    for (const [name, delivered] of value.groups) out.push(['XGROUP', 'CREATE', key, name, delivered]);
    return out;
  },
  merge: () => {
    throw new Error('streams cannot be merged');
  },
  // Empties the stream and keeps it (Pika 3.x has no per-type delete; XADD there takes any id).
  clear: (key) => [['XTRIM', key, 'MAXLEN', 0]],
  size: (value) => value.entries.length,
  mergeValues: () => {
    throw new Error('streams cannot be merged');
  },
};
