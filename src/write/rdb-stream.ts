import { UnsupportedPayloadError } from '../rdb/error.js';
import { listpack } from '../rdb/listpack.js';
import type { RdbReader } from '../rdb/reader.js';
import type { StreamValue } from '../types/stream/codec.js';

/**
 * A stream: its listpack nodes, each keyed by its master id (16 bytes: ms, seq, big-endian), then
 * the length and last id, (v2+) first id, max deleted id and entries added, then the consumer groups
 * with their pending entries and consumers, of which only each group's name and last-delivered id
 * are kept (what the stream codec carries).
 *
 * A node's listpack starts with a master entry (count, deleted, the master fields, 0); each entry
 * then is flags, ms and seq as differences from the master id, the values alone when the entry has
 * the master's fields (flag 2) or else the field count and the pairs, and its own element count.
 * Deleted entries (flag 1) stay in the node until it is rewritten, and are skipped.
 */
export function decodeStream(r: RdbReader, version: 1 | 2 | 3): StreamValue {
  const entries: [Buffer, Buffer[]][] = [];
  const nodes = r.length();
  for (let n = 0; n < nodes; n++) {
    const master = r.string();
    streamNodeEntries(master, r.string(), entries);
  }
  return { entries, ...decodeStreamMeta(r, version) };
}

/** The live entries of one listpack node (`master`: its 16-byte master id), appended to `out`. */
export function streamNodeEntries(
  master: Buffer,
  node: Buffer,
  out: [Buffer, Buffer[]][] = [],
): [Buffer, Buffer[]][] {
  if (master.length !== 16) throw new UnsupportedPayloadError('bad stream node key');
  const baseMs = master.readBigUInt64BE(0);
  const baseSeq = master.readBigUInt64BE(8);
  const lp = listpack(node);
  let at = 0;
  const next = (): Buffer => {
    const item = lp[at++];
    if (item === undefined) throw new UnsupportedPayloadError('stream node ends early');
    return item;
  };
  const int = (): bigint => BigInt(next().toString());
  const count = Number(int()) + Number(int()); // live + deleted entries
  const masterFields = Array.from({ length: Number(int()) }, next);
  next(); // the master entry's terminator
  for (let e = 0; e < count; e++) {
    const flags = Number(int());
    const id = `${baseMs + int()}-${baseSeq + int()}`;
    const fields: Buffer[] = [];
    if (flags & 2) for (const field of masterFields) fields.push(field, next());
    else for (let f = Number(int()); f > 0; f--) fields.push(next(), next());
    next(); // the entry's element count (for walking backwards)
    if (!(flags & 1)) out.push([Buffer.from(id), fields]);
  }
  return out;
}

/** What follows a stream's nodes: its last id and its consumer groups (name, last-delivered id). */
export function decodeStreamMeta(r: RdbReader, version: 1 | 2 | 3): Omit<StreamValue, 'entries'> {
  r.length(); // length
  const lastId = Buffer.from(`${r.length()}-${r.length()}`);
  if (version >= 2) {
    for (let i = 0; i < 5; i++) r.length(); // first id, max deleted id, entries added
  }
  const groups: [Buffer, Buffer][] = [];
  const groupCount = r.length();
  for (let g = 0; g < groupCount; g++) {
    const name = r.string();
    const delivered = Buffer.from(`${r.length()}-${r.length()}`);
    if (version >= 2) r.length(); // entries read
    const pending = r.length();
    for (let p = 0; p < pending; p++) {
      r.take(16 + 8); // id, delivery time
      r.length(); // delivery count
    }
    const consumers = r.length();
    for (let c = 0; c < consumers; c++) {
      r.string(); // name
      r.take(version >= 3 ? 16 : 8); // seen time (and active time)
      r.take(16 * r.length()); // the consumer's pending ids
    }
    groups.push([name, delivered]);
  }
  return { lastId, groups };
}
