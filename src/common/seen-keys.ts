/**
 * The keys of one source already taken, so that a key SCAN returns twice is applied once
 * (SPEC §1.6: a list append or zset sum applied twice is corruption).
 *
 * Written here rather than as a Set<string>: a Set of the keys themselves costs ~60–100 bytes a
 * key and would make memory grow with the dataset; this stores a 64-bit fingerprint per key in
 * one typed array (~11 bytes a key at the maximum load factor). Two different keys share a
 * fingerprint with a probability of about n²/2⁶⁵ (under 3·10⁻⁸ for a million keys per source).
 */
export class SeenKeys {
  private slots: Uint32Array; // pairs (hi, lo); (0, 0) marks an empty slot
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 1 << 14) {
    let capacity = 1;
    while (capacity < initialCapacity) capacity <<= 1;
    this.slots = new Uint32Array(capacity * 2);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Records the key; returns false when it was already recorded. */
  add(key: Buffer): boolean {
    let hi = fnv1a(key);
    const lo = murmurMix(key);
    if (hi === 0 && lo === 0) hi = 1;
    if (this.insert(hi, lo)) {
      this.count++;
      if (this.count * 4 > (this.mask + 1) * 3) this.grow();
      return true;
    }
    return false;
  }

  /** Whether the key was recorded (without recording it). */
  has(key: Buffer): boolean {
    let hi = fnv1a(key);
    const lo = murmurMix(key);
    if (hi === 0 && lo === 0) hi = 1;
    let i = (lo ^ hi) & this.mask;
    for (;;) {
      const h = this.slots[i * 2]!;
      const l = this.slots[i * 2 + 1]!;
      if (h === 0 && l === 0) return false;
      if (h === hi && l === lo) return true;
      i = (i + 1) & this.mask;
    }
  }

  private insert(hi: number, lo: number): boolean {
    let i = (lo ^ hi) & this.mask;
    for (;;) {
      const h = this.slots[i * 2]!;
      const l = this.slots[i * 2 + 1]!;
      if (h === 0 && l === 0) {
        this.slots[i * 2] = hi;
        this.slots[i * 2 + 1] = lo;
        return true;
      }
      if (h === hi && l === lo) return false;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.mask = (this.mask << 1) | 1;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== 0 || old[i + 1] !== 0) this.insert(old[i]!, old[i + 1]!);
    }
  }
}

function fnv1a(bytes: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** A MurmurHash3-style byte mix with a different seed and avalanche than FNV, so the halves are independent. */
function murmurMix(bytes: Buffer): number {
  let h = 0x9747b28c ^ bytes.length;
  for (let i = 0; i < bytes.length; i++) {
    let k = Math.imul(bytes[i]! + 0x5bd1e995 * (i & 3), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
