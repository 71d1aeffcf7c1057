import { PayloadEndsEarlyError, UnsupportedPayloadError } from './error.js';
import { integerText } from './integer-text.js';
import { lzfDecompress } from './lzf.js';

/** A cursor over RDB bytes: lengths, strings (plain, integer-encoded, LZF) and doubles. */
export class RdbReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  /** How many bytes have been read. */
  get position(): number {
    return this.at;
  }

  byte(): number {
    if (this.at >= this.buf.length) throw new PayloadEndsEarlyError('payload ends early');
    return this.buf[this.at++]!;
  }

  take(n: number): Buffer {
    if (this.at + n > this.buf.length) throw new PayloadEndsEarlyError('payload ends early');
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** A length, or for a string, { encoded: kind } when the top bits say a special encoding follows. */
  private lengthOrEncoding(): { len: number } | { encoded: number } {
    const first = this.byte();
    switch (first >> 6) {
      case 0:
        return { len: first & 0x3f };
      case 1:
        return { len: ((first & 0x3f) << 8) | this.byte() };
      case 2:
        if (first === 0x80) return { len: this.take(4).readUInt32BE(0) };
        if (first === 0x81) return { len: Number(this.take(8).readBigUInt64BE(0)) };
        throw new UnsupportedPayloadError(`bad length byte 0x${first.toString(16)}`);
      default:
        return { encoded: first & 0x3f };
    }
  }

  length(): number {
    const l = this.lengthOrEncoding();
    if ('encoded' in l) throw new UnsupportedPayloadError('an encoded string where a length belongs');
    return l.len;
  }

  string(): Buffer {
    const l = this.lengthOrEncoding();
    if ('len' in l) return this.take(l.len);
    switch (l.encoded) {
      case 0:
        return integerText(this.take(1).readInt8(0));
      case 1:
        return integerText(this.take(2).readInt16LE(0));
      case 2:
        return integerText(this.take(4).readInt32LE(0));
      case 3: {
        const compressed = this.length();
        const plain = this.length();
        return lzfDecompress(this.take(compressed), plain);
      }
      default:
        throw new UnsupportedPayloadError(`unknown string encoding ${l.encoded}`);
    }
  }

  strings(n: number): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++) out.push(this.string());
    return out;
  }

  /** RDB_TYPE_ZSET's score: a length byte (253 nan, 254 +inf, 255 -inf) then the number as text. */
  textDouble(): number {
    const len = this.byte();
    if (len === 253) return Number.NaN;
    if (len === 254) return Number.POSITIVE_INFINITY;
    if (len === 255) return Number.NEGATIVE_INFINITY;
    return Number(this.take(len).toString('latin1'));
  }

  binaryDouble(): number {
    return this.take(8).readDoubleLE(0);
  }
}
