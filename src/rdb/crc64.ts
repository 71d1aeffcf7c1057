/**
 * CRC-64/Jones, the checksum Redis puts after an RDB file and a DUMP payload (Redis's crc64.c:
 * reflected polynomial 0xad93d23594c935a9, initial value 0, no final xor; "123456789" gives
 * 0xe9c6d914c4b8d9ca).
 *
 * Hand-written rather than with BigInt because an RDB file is checksummed whole while it is read:
 * the 64-bit state is kept as two 32-bit halves and the input taken 16 bytes at a time through
 * sixteen tables (slicing-by-16), which runs at several hundred MB/s where a BigInt loop runs at a few
 * (slicing-by-8 measured about 25% slower here).
 */
const POLY_HI = 0x95ac9329; // 0xad93d23594c935a9 bit-reversed: 0x95ac9329ac4bc9b5
const POLY_LO = 0xac4bc9b5;

/** TABLE_HI/LO[k * 256 + b]: the state after feeding byte b followed by k zero bytes (k < 16). */
const SLICES = 16;
const TABLE_HI = new Int32Array(SLICES * 256);
const TABLE_LO = new Int32Array(SLICES * 256);
for (let b = 0; b < 256; b++) {
  let hi = 0;
  let lo = b;
  for (let bit = 0; bit < 8; bit++) {
    const carry = lo & 1;
    lo = (lo >>> 1) | ((hi & 1) << 31);
    hi >>>= 1;
    if (carry) {
      hi ^= POLY_HI;
      lo ^= POLY_LO;
    }
  }
  TABLE_HI[b] = hi;
  TABLE_LO[b] = lo;
}
for (let k = 1; k < SLICES; k++) {
  for (let b = 0; b < 256; b++) {
    const hi = TABLE_HI[(k - 1) * 256 + b]!;
    const lo = TABLE_LO[(k - 1) * 256 + b]!;
    const i = lo & 0xff;
    TABLE_HI[k * 256 + b] = (hi >>> 8) ^ TABLE_HI[i]!;
    TABLE_LO[k * 256 + b] = ((lo >>> 8) | ((hi & 0xff) << 24)) ^ TABLE_LO[i]!;
  }
}

/** The 8 table entries of one 32-bit word fed at slices k+3 … k (its bytes low to high). */
function word(t: Int32Array, k: number, w: number): number {
  return (
    t[(k + 3) * 256 + (w & 0xff)]! ^
    t[(k + 2) * 256 + ((w >>> 8) & 0xff)]! ^
    t[(k + 1) * 256 + ((w >>> 16) & 0xff)]! ^
    t[k * 256 + (w >>> 24)]!
  );
}

/** A running CRC-64 over bytes fed in order, in any number of pieces. */
export class Crc64 {
  private hi = 0;
  private lo = 0;

  update(buf: Uint8Array, start = 0, end = buf.length): this {
    let hi = this.hi;
    let lo = this.lo;
    let p = start;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (; p + 16 <= end; p += 16) {
      const a = lo ^ view.getInt32(p, true);
      const b = hi ^ view.getInt32(p + 4, true);
      const c = view.getInt32(p + 8, true);
      const d = view.getInt32(p + 12, true);
      hi = word(TABLE_HI, 12, a) ^ word(TABLE_HI, 8, b) ^ word(TABLE_HI, 4, c) ^ word(TABLE_HI, 0, d);
      lo = word(TABLE_LO, 12, a) ^ word(TABLE_LO, 8, b) ^ word(TABLE_LO, 4, c) ^ word(TABLE_LO, 0, d);
    }
    for (; p < end; p++) {
      const i = (lo ^ buf[p]!) & 0xff;
      lo = ((lo >>> 8) | ((hi & 0xff) << 24)) ^ TABLE_LO[i]!;
      hi = (hi >>> 8) ^ TABLE_HI[i]!;
    }
    this.hi = hi;
    this.lo = lo;
    return this;
  }

  /** The checksum as RDB stores it: 8 bytes, little-endian. */
  bytes(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32LE(this.lo >>> 0, 0);
    out.writeUInt32LE(this.hi >>> 0, 4);
    return out;
  }

  value(): bigint {
    return (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0);
  }
}

/** The CRC-64 of one buffer. */
export function crc64(buf: Uint8Array): bigint {
  return new Crc64().update(buf).value();
}
