/**
 * Values as short text for verify's differences (SPEC §6.5: key, expected, found): at most a few
 * elements, each at most a few dozen bytes; bytes that are printable UTF-8 shown as a JSON string,
 * anything else as base64 (`b64:…`). Each type's verify.ts builds its own display from these.
 */

const MAX_ITEMS = 6;
const MAX_BYTES = 40;

export function showBytes(b: Buffer): string {
  const cut = b.length > MAX_BYTES ? b.subarray(0, MAX_BYTES) : b;
  const more = b.length > MAX_BYTES ? `…(${b.length} bytes)` : '';
  const text = cut.toString('utf8');
  // Printable and round-trips: shown as text; otherwise base64 (binary, or cut inside a character).
  const printable = Buffer.from(text, 'utf8').equals(cut) && !/[\u0000-\u001f\u007f]/.test(text);
  return printable ? `${JSON.stringify(text)}${more}` : `b64:${cut.toString('base64')}${more}`;
}

/** The first few of `list`, comma separated, and how many there are in all when some are left out. */
export function items(list: string[]): string {
  const shown = list.slice(0, MAX_ITEMS).join(', ');
  return list.length > MAX_ITEMS ? `${shown}, …(${list.length} in all)` : shown;
}

/** Pairs of a flat array, sorted by the bytes of the field (`keyAt` 0) or member (1), then shown. */
export function flatPairs(flat: Buffer[], keyAt: 0 | 1, f: (a: Buffer, b: Buffer) => string): string[] {
  const pairs: [Buffer, Buffer][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs.sort((x, y) => Buffer.compare(x[keyAt], y[keyAt])).map(([a, b]) => f(a, b));
}

/** Members in byte order, so that two displays of one value read the same. */
export const sorted = (members: Buffer[]): Buffer[] => [...members].sort(Buffer.compare);
