/**
 * The decimal text of a safe integer as a Buffer, its digits written by hand: the integers of
 * listpacks, ziplists and intsets (small members, zset scores) become text for every element a
 * payload decodes, and `Buffer.from(String(n))` cost a string and a native UTF-8 encode each (issue
 * 20: a merge decodes the payloads the probe prefetched). Larger integers (int64) go through String.
 */
export function integerText(n: number): Buffer {
  if (!Number.isSafeInteger(n)) return Buffer.from(String(n));
  const negative = n < 0;
  let rest = negative ? -n : n;
  let width = 1;
  for (let x = rest; x >= 10; x = Math.floor(x / 10)) width++;
  const sign = negative ? 1 : 0;
  const out = Buffer.allocUnsafe(sign + width);
  if (negative) out[0] = 0x2d;
  for (let i = sign + width - 1; i >= sign; i--) {
    out[i] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return out;
}
