import { UnsupportedPayloadError } from './error.js';

/** LZF (liblzf's format, as Redis compresses long strings and quicklist nodes). */
export function lzfDecompress(input: Buffer, plainLength: number): Buffer {
  const out = Buffer.alloc(plainLength);
  let ip = 0;
  let op = 0;
  while (ip < input.length) {
    const ctrl = input[ip++]!;
    if (ctrl < 32) {
      const run = ctrl + 1;
      if (op + run > plainLength || ip + run > input.length)
        throw new UnsupportedPayloadError('corrupt LZF data');
      input.copy(out, op, ip, ip + run);
      op += run;
      ip += run;
    } else {
      let len = ctrl >> 5;
      if (len === 7) len += input[ip++]!;
      const ref = op - ((ctrl & 0x1f) << 8) - 1 - input[ip++]!;
      len += 2;
      if (ref < 0 || op + len > plainLength) throw new UnsupportedPayloadError('corrupt LZF data');
      // Byte by byte: a back reference may overlap what it writes (a repeated run).
      for (let i = 0; i < len; i++) out[op++] = out[ref + i]!;
    }
  }
  if (op !== plainLength) throw new UnsupportedPayloadError('corrupt LZF data');
  return out;
}
