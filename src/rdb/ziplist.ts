import { UnsupportedPayloadError } from './error.js';
import { integerText } from './integer-text.js';

/**
 * A ziplist: zlbytes (4), zltail (4), zllen (2), entries, 0xff. Each entry: the previous entry's
 * length (1 byte, or 0xfe and 4 bytes), an encoding, the data.
 */
export function ziplist(blob: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 10;
  while (at < blob.length && blob[at] !== 0xff) {
    at += blob[at] === 0xfe ? 5 : 1;
    const enc = blob[at]!;
    if (enc >> 6 === 0) {
      const len = enc & 0x3f;
      out.push(blob.subarray(at + 1, at + 1 + len));
      at += 1 + len;
    } else if (enc >> 6 === 1) {
      const len = ((enc & 0x3f) << 8) | blob[at + 1]!;
      out.push(blob.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    } else if (enc >> 6 === 2) {
      const len = blob.readUInt32BE(at + 1);
      out.push(blob.subarray(at + 5, at + 5 + len));
      at += 5 + len;
    } else {
      at += 1;
      let n: number | bigint;
      switch (enc) {
        case 0xc0:
          n = blob.readInt16LE(at);
          at += 2;
          break;
        case 0xd0:
          n = blob.readInt32LE(at);
          at += 4;
          break;
        case 0xe0:
          n = blob.readBigInt64LE(at);
          at += 8;
          break;
        case 0xf0:
          n = blob.readIntLE(at, 3);
          at += 3;
          break;
        case 0xfe:
          n = blob.readInt8(at);
          at += 1;
          break;
        default:
          if (enc > 0xf0 && enc < 0xfe) n = (enc & 0x0f) - 1;
          else throw new UnsupportedPayloadError(`bad ziplist encoding 0x${enc.toString(16)}`);
      }
      out.push(typeof n === 'bigint' ? Buffer.from(String(n)) : integerText(n));
    }
  }
  return out;
}
