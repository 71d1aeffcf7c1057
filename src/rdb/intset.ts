import { UnsupportedPayloadError } from './error.js';
import { integerText } from './integer-text.js';

/** An intset: encoding (2, 4 or 8 bytes per element), count, then the integers, little-endian. */
export function intset(blob: Buffer): Buffer[] {
  const width = blob.readUInt32LE(0);
  const count = blob.readUInt32LE(4);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const at = 8 + i * width;
    if (width === 2) out.push(integerText(blob.readInt16LE(at)));
    else if (width === 4) out.push(integerText(blob.readInt32LE(at)));
    else if (width === 8) out.push(Buffer.from(String(blob.readBigInt64LE(at))));
    else throw new UnsupportedPayloadError(`bad intset width ${width}`);
  }
  return out;
}
