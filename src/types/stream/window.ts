import type { Command, Reply } from '../../servers/resp.js';
import type { Dialect } from '../codec.js';
import type { WindowOps } from '../window-ops.js';
import { bytesOf } from '../window-parts.js';
import { type StreamValue, streamCodec } from './codec.js';

type Entries = StreamValue['entries'];

/** A stream's last id and consumer groups as commands on `into`, after its entries went by XADD. */
export function streamMetaCommands(
  into: Buffer,
  meta: Omit<StreamValue, 'entries'>,
  dialect: Dialect,
): Command[] {
  return streamCodec.write(into, { ...meta, entries: [] }, dialect).filter(([name]) => name !== 'XADD');
}

/** A stream's windows are XRANGEs by id: entries `[id, fields]`, each written with its own id. */
export const streamWindow: WindowOps = {
  walk(key) {
    let start: Buffer | string = '-';
    return {
      next: (count: number): Command => ['XRANGE', key, start, '+', 'COUNT', count],
      take(entries: Reply): Buffer[] | null {
        if (!Array.isArray(entries) || entries.length === 0) return null;
        const typed = entries as unknown as Entries;
        start = Buffer.concat([Buffer.from('('), typed[typed.length - 1]![0]]);
        return typed as unknown as Buffer[];
      },
    };
  },
  measure(window) {
    const entries = window as unknown as Entries;
    return {
      bytes: entries.reduce((n, [id, fields]) => n + id.length + bytesOf(fields), 0),
      elements: entries.length,
    };
  },
  write: (into, window) =>
    (window as unknown as Entries).map(([id, fields]) => ['XADD', into, id, ...fields] as Command),
  // Metadata that XADD does not carry: the last id and the consumer groups, where both sides have them.
  async tail(source, key, into, sourceCaps, targetCaps) {
    // Pika never answers XINFO GROUPS: it is not asked there.
    const replies = await source.send([
      ['XINFO', 'STREAM', key],
      ...(sourceCaps.streamGroups ? [['XINFO', 'GROUPS', key] as Command] : []),
    ]);
    const value = streamCodec.decode([[], replies[0], replies[1]]);
    return value ? streamMetaCommands(into, value, targetCaps) : [];
  },
  ttlKept: (sourceCaps) => sourceCaps.streamTtl,
};
