import type { FileHandle } from 'node:fs/promises';
import { Crc64 } from '../crc64.js';
import { PayloadEndsEarlyError, UnsupportedPayloadError } from '../error.js';
import { RdbReader } from '../reader.js';
import { RdbCorruptError, RdbTruncatedError } from './errors.js';

/** What a token read answers when its bytes are not all in the window yet (nothing is consumed). */
export const NEED = -1;

/**
 * A window onto an RDB file: a buffer of a chunk or a few, refilled by `more()`, and the token reads
 * of the RDB encoding over it. A token (a length, a string header, a fixed field) is read whole or
 * not at all, answering NEED; only a string's bytes are consumed in pieces (skipString), so a value
 * of any size passes through a window of one chunk. Memory is the window: the caller says on each
 * refill from which offset bytes must be kept (the start of a value it wants whole), and the window
 * grows to hold them, shrinking back afterwards.
 *
 * Every byte that leaves the window has gone through the running CRC-64, so the check at the EOF
 * opcode costs no second pass over the file.
 */
export class Window {
  buf: Buffer;
  /** File offset of buf[0]. */
  base = 0;
  pos = 0;
  end = 0;
  /** Offset of the record being read, for a truncation's message. */
  recordAt = 0;
  /** The largest the buffer has been: what the read held at most. */
  peakBytes: number;
  /** Bytes of a string that skipString() has still to pass (0: none under way). */
  private strLeft = 0;
  private readonly crc = new Crc64();
  /** Offset up to which the CRC has been fed. */
  private crcAt = 0;
  /** False for a window onto one value (readFrom): its bytes were checked by the pass that found it. */
  private checksummed = true;

  constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly chunk: number,
    /** The size growth stops at (doubling would overshoot it by up to twice): the caller's limit. */
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {
    this.buf = Buffer.allocUnsafe(chunk);
    this.peakBytes = chunk;
  }

  /**
   * Starts (or moves) the window at file offset `offset`, for reading one value again after the pass
   * over the file: nothing is kept of the window before, and no CRC is kept from here on.
   */
  readFrom(offset: number): void {
    this.checksummed = false;
    this.base = this.crcAt = offset;
    this.pos = this.end = 0;
    this.strLeft = 0;
  }

  /** Starts the window after the file's header, which was read already (and is checksummed too). */
  startAfter(header: Buffer): void {
    this.crc.update(header);
    this.base = this.crcAt = header.length;
  }

  /** Bytes of the string under way that skipString() has still to pass. */
  get stringLeft(): number {
    return this.strLeft;
  }

  /**
   * A copy of buf[start, end): the window is overwritten by the next refill. A loop for the short
   * copies most keys and values are, where Buffer.copy costs more than the bytes.
   */
  copyOut(start: number, end: number): Buffer {
    const n = end - start;
    const out = Buffer.allocUnsafe(n);
    if (n > 64) this.buf.copy(out, 0, start, end);
    else for (let i = 0; i < n; i++) out[i] = this.buf[start + i]!;
    return out;
  }

  /** File offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  /**
   * Reads at least one more byte of the file, keeping in the window the bytes from file offset
   * `keepFrom` (≤ offset) on. At the end of the file, the record under way is truncated.
   */
  async more(keepFrom: number): Promise<void> {
    this.settleCrc();
    const filled = this.base + this.end;
    if (filled >= this.size) throw new RdbTruncatedError(this.file, this.size, this.recordAt);
    const keep = keepFrom - this.base;
    const kept = this.end - keep;
    // Compact only when the tail has no room for a chunk, so that a value kept whole is not moved on
    // every refill; grow when the kept bytes and a chunk do not fit; shrink back after a big value.
    const shrink = this.buf.length > 4 * this.chunk && kept < this.chunk;
    if (shrink || this.buf.length - this.end < this.chunk) {
      let target = this.buf;
      if (shrink) target = Buffer.allocUnsafe(2 * this.chunk);
      else if (kept + this.chunk > this.buf.length)
        target = Buffer.allocUnsafe(
          Math.max(Math.min(this.buf.length * 2, this.maxBytes), kept + this.chunk),
        );
      if (kept > 0) this.buf.copy(target, 0, keep, this.end);
      this.buf = target;
      this.peakBytes = Math.max(this.peakBytes, target.length);
      this.base += keep;
      this.pos -= keep;
      this.end = kept;
    }
    const want = Math.min(this.buf.length - this.end, this.size - filled);
    const { bytesRead } = await this.fh.read(this.buf, this.end, want, filled);
    // The file shrank since it was opened (stat gave its size): what is missing is a truncation.
    if (bytesRead === 0) throw new RdbTruncatedError(this.file, filled, this.recordAt);
    this.end += bytesRead;
  }

  /** Feeds the CRC with every byte read so far; `crc()` then covers the file up to `offset`. */
  settleCrc(): void {
    if (!this.checksummed) return;
    this.crc.update(this.buf, this.crcAt - this.base, this.pos);
    this.crcAt = this.base + this.pos;
  }

  crcValue(): bigint {
    return this.crc.value();
  }

  byte(): number {
    return this.pos < this.end ? this.buf[this.pos++]! : NEED;
  }

  /** Passes n bytes (n small: a fixed-size field), or answers false with nothing consumed. */
  skip(n: number): boolean {
    if (this.pos + n > this.end) return false;
    this.pos += n;
    return true;
  }

  /** A length (Redis's rdbLoadLen), or NEED. */
  len(): number {
    const p = this.pos;
    if (p >= this.end) return NEED;
    const b = this.buf[p]!;
    switch (b >> 6) {
      case 0:
        this.pos = p + 1;
        return b & 0x3f;
      case 1:
        if (p + 2 > this.end) return NEED;
        this.pos = p + 2;
        return ((b & 0x3f) << 8) | this.buf[p + 1]!;
      case 2: {
        if (b === 0x80) {
          if (p + 5 > this.end) return NEED;
          this.pos = p + 5;
          return this.buf.readUInt32BE(p + 1);
        }
        if (b !== 0x81) throw this.corrupt(p, `bad length byte 0x${b.toString(16)}`);
        if (p + 9 > this.end) return NEED;
        this.pos = p + 9;
        // Not always a size: a stream group's entries-read is saved as -1 (2^64 - 1) when unknown.
        return Number(this.buf.readBigUInt64BE(p + 1));
      }
      default:
        throw this.corrupt(p, 'an encoded string where a length belongs');
    }
  }

  /** A 64-bit length (a module id) as a bigint, or null when not all in the window. */
  bigLen(): bigint | null {
    const p = this.pos;
    if (p >= this.end) return null;
    if (this.buf[p] !== 0x81) {
      const n = this.len();
      return n === NEED ? null : BigInt(n);
    }
    if (p + 9 > this.end) return null;
    this.pos = p + 9;
    return this.buf.readBigUInt64BE(p + 1);
  }

  /**
   * Passes a string in any encoding (plain, integer, LZF), as much of it as the window holds: true once
   * all of it has passed, false when the rest needs a refill (then call again).
   */
  skipString(): boolean {
    if (this.strLeft === 0) {
      const p = this.pos;
      if (p >= this.end) return false;
      const b = this.buf[p]!;
      if (b >> 6 !== 3) {
        const n = this.len();
        if (n === NEED) return false;
        this.strLeft = n;
      } else {
        const enc = b & 0x3f;
        if (enc <= 2) return this.skip(enc === 0 ? 2 : enc === 1 ? 3 : 5);
        if (enc !== 3) throw this.corrupt(p, `unknown string encoding ${enc}`);
        this.pos = p + 1;
        const compressed = this.len();
        if (compressed === NEED || this.len() === NEED) {
          this.pos = p;
          return false;
        }
        this.strLeft = compressed;
      }
      if (this.offset + this.strLeft > this.size)
        throw new RdbTruncatedError(
          this.file,
          this.size,
          this.recordAt,
          `a string of ${this.strLeft} bytes at byte ${p} would end past the end of the file`,
        );
    }
    const k = Math.min(this.strLeft, this.end - this.pos);
    this.pos += k;
    this.strLeft -= k;
    return this.strLeft === 0;
  }

  /** ZSET (type 3)'s score: a length byte (253–255: nan, +inf, −inf) then the number as text. */
  skipTextDouble(): boolean {
    if (this.pos >= this.end) return false;
    const b = this.buf[this.pos]!;
    return this.skip(b >= 253 ? 1 : 1 + b);
  }

  /** A whole string, decoded (integer and LZF encodings undone), or null when not all in the window. */
  string(): Buffer | null {
    const p = this.pos;
    if (p < this.end && this.buf[p]! >> 6 !== 3) {
      // A plain string, the common case, without a reader: its length, then a copy of its bytes.
      const n = this.len();
      if (n === NEED) return null;
      if (this.pos + n > this.end) {
        this.pos = p;
        return null;
      }
      const out = this.copyOut(this.pos, this.pos + n);
      this.pos += n;
      return out;
    }
    const reader = new RdbReader(this.buf.subarray(p, this.end));
    try {
      const out = reader.string();
      this.pos += reader.position;
      return out;
    } catch (err) {
      if (err instanceof PayloadEndsEarlyError) return null;
      if (err instanceof UnsupportedPayloadError) throw this.corrupt(p, err.message);
      throw err;
    }
  }

  corrupt(at: number, what: string): RdbCorruptError {
    return new RdbCorruptError(this.file, this.base + at, what);
  }
}
