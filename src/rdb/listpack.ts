import { UnsupportedPayloadError } from './error.js';
import { integerText } from './integer-text.js';

/**
 * A listpack: total bytes (4), count (2), entries, 0xff. Each entry: an encoding (small integers
 * and short string lengths inside it), the data, and its own length backwards (1 to 5 bytes).
 */
export function listpack(blob: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 6;
  while (at < blob.length && blob[at] !== 0xff) {
    const start = at;
    const enc = blob[at]!;
    if (enc >> 7 === 0) {
      out.push(integerText(enc & 0x7f));
      at += 1;
    } else if (enc >> 6 === 2) {
      const len = enc & 0x3f;
      out.push(blob.subarray(at + 1, at + 1 + len));
      at += 1 + len;
    } else if (enc >> 5 === 6) {
      const raw = ((enc & 0x1f) << 8) | blob[at + 1]!;
      out.push(integerText(raw >= 1 << 12 ? raw - (1 << 13) : raw));
      at += 2;
    } else if (enc >> 4 === 14) {
      const len = ((enc & 0x0f) << 8) | blob[at + 1]!;
      out.push(blob.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    } else {
      switch (enc) {
        case 0xf0: {
          const len = blob.readUInt32LE(at + 1);
          out.push(blob.subarray(at + 5, at + 5 + len));
          at += 5 + len;
          break;
        }
        case 0xf1:
          out.push(integerText(blob.readInt16LE(at + 1)));
          at += 3;
          break;
        case 0xf2:
          out.push(integerText(blob.readIntLE(at + 1, 3)));
          at += 4;
          break;
        case 0xf3:
          out.push(integerText(blob.readInt32LE(at + 1)));
          at += 5;
          break;
        case 0xf4:
          out.push(Buffer.from(String(blob.readBigInt64LE(at + 1))));
          at += 9;
          break;
        default:
          throw new UnsupportedPayloadError(`bad listpack encoding 0x${enc.toString(16)}`);
      }
    }
    at += backlenSize(at - start);
  }
  return out;
}

/** Bytes the backward length of an entry of `len` bytes takes (7 bits per byte). */
function backlenSize(len: number): number {
  return len < 128 ? 1 : len < 16384 ? 2 : len < 2097152 ? 3 : len < 268435456 ? 4 : 5;
}
