/** Redis Cluster's hash slots: 16384 of them, CRC16 (XMODEM) of the key's hash tag, modulo 16384. */
export const SLOTS = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

function crc16(bytes: Buffer, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/**
 * The slot of a key, as Redis computes it (cluster.c keyHashSlot): the bytes between the first `{`
 * and the first `}` after it when there are any, else the whole key. (cluster-key-slot differs on
 * keys such as `{}a}`, where an empty tag is followed by another `}`: it hashes `a`, Redis the whole
 * key; a slot must be exact here, since a temporary key is renamed over its key.)
 */
export function keySlot(key: Buffer | string): number {
  const bytes = typeof key === 'string' ? Buffer.from(key) : key;
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes, open + 1, close) & (SLOTS - 1);
  }
  return crc16(bytes, 0, bytes.length) & (SLOTS - 1);
}

let tags: string[] | undefined;

/**
 * A short hash tag for every slot: `{tag}` in a key puts it in that slot. Found once, by counting in
 * base 36 until every slot has one (about 170,000 tries, a few tens of milliseconds).
 */
export function tagForSlot(slot: number): string {
  if (!tags) {
    const found: string[] = new Array(SLOTS);
    let missing = SLOTS;
    for (let n = 0; missing > 0; n++) {
      const tag = n.toString(36);
      const s = keySlot(tag);
      if (found[s] === undefined) {
        found[s] = tag;
        missing--;
      }
    }
    tags = found;
  }
  return tags[slot]!;
}
