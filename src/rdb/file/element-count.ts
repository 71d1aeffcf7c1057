import { RdbReader } from '../reader.js';

/**
 * How many elements a value holds, from its headers: the count that hashtables, skiplists and linked
 * lists start with, and a quicklist's nodes' own counts (a listpack's or ziplist's header; a plain
 * node is one element). Undefined for the compact encodings, which the server's own limits keep small,
 * and for strings and streams, which are big by their bytes alone; undefined too where the headers
 * cannot be read (a damaged value fails where it is decoded, with its reason, not here).
 */
export function elementCount(valueType: number, value: Buffer): number | undefined {
  try {
    return countOf(valueType, new RdbReader(value));
  } catch {
    return undefined;
  }
}

function countOf(valueType: number, r: RdbReader): number | undefined {
  switch (valueType) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 22:
      return r.length();
    case 24:
      r.take(8);
      return r.length();
    case 14:
    case 18: {
      let elements = 0;
      for (let nodes = r.length(); nodes > 0; nodes--) {
        const container = valueType === 18 ? r.length() : 2;
        const node = r.string();
        // A listpack counts its elements at bytes 4-5, a ziplist at 8-9 (65535: too many to say).
        const count = container === 1 ? 1 : node.readUInt16LE(valueType === 18 ? 4 : 8);
        elements += count === 65535 ? node.length : count;
      }
      return elements;
    }
    default:
      return undefined;
  }
}
