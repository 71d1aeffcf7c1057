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
  private slots: Int32Array; // pairs (hi, lo); (0, 0) marks an empty slot
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 1 << 14) {
    let capacity = 1;
    while (capacity < initialCapacity) capacity <<= 1;
    this.slots = new Int32Array(capacity * 2);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The memory its table takes, in bytes. */
  get bytes(): number {
    return this.slots.byteLength;
  }

  /** Records the key; returns false when it was already recorded. */
  add(key: Buffer): boolean {
    fingerprint(key);
    return this.record(fpHi, fpLo);
  }

  /** Whether the key was recorded (without recording it). */
  has(key: Buffer): boolean {
    fingerprint(key);
    return this.holds(fpHi, fpLo);
  }

  /**
   * Records every key of `keys`, as add() one by one: `fresh[i]` is 1 where keys[i] was not recorded
   * before (a key given twice counts at its first place), 0 where it was.
   *
   * Why not add() in a loop: the table of a large source is out of the CPU's caches (its reads wait on
   * memory), and a loop that hashes a key, then probes, then hashes the next makes the CPU wait on
   * each probe in turn. Hashing every key first, then probing the table in a loop of nothing else, lets
   * it wait on many at once: 200,000 lookups in a table of 100,000 keys out of cache took 52 ms key by
   * key and 18 ms this way.
   */
  addMany(keys: readonly Buffer[], fresh: Uint8Array): void {
    const prints = fingerprints(keys);
    for (let i = 0; i < keys.length; i++) fresh[i] = this.record(prints[i * 2]!, prints[i * 2 + 1]!) ? 1 : 0;
  }

  /** `found[i]` is 1 where keys[i] was recorded, 0 where not (has() for many keys, as addMany). */
  hasMany(keys: readonly Buffer[], found: Uint8Array): void {
    const prints = fingerprints(keys);
    for (let i = 0; i < keys.length; i++) found[i] = this.holds(prints[i * 2]!, prints[i * 2 + 1]!) ? 1 : 0;
  }

  /** Inserts a fingerprint, growing the table past three quarters full; false when it was there. */
  private record(hi: number, lo: number): boolean {
    if (!this.insert(hi, lo)) return false;
    this.count++;
    if (this.count * 4 > (this.mask + 1) * 3) this.grow();
    return true;
  }

  private holds(hi: number, lo: number): boolean {
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
    this.slots = new Int32Array(old.length * 2);
    this.mask = (this.mask << 1) | 1;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== 0 || old[i + 1] !== 0) this.insert(old[i]!, old[i + 1]!);
    }
  }
}

/**
 * The last fingerprint's halves (module state rather than a returned pair: no allocation per key), as
 * signed 32-bit integers: V8 keeps those unboxed, where an unsigned half above 2^31 stored here was a
 * heap number per key and half (some 5 MB of garbage a copy of 300,000 keys).
 */
let fpHi = 0;
let fpLo = 0;

/** The fingerprints of addMany/hasMany's keys, in pairs (hi, lo): one buffer, grown as needed. */
let prints = new Int32Array(2048);

function fingerprints(keys: readonly Buffer[]): Int32Array {
  if (prints.length < keys.length * 2) prints = new Int32Array(keys.length * 4);
  for (let i = 0; i < keys.length; i++) {
    fingerprint(keys[i]!);
    prints[i * 2] = fpHi;
    prints[i * 2 + 1] = fpLo;
  }
  return prints;
}

/**
 * A 64-bit fingerprint of the key's bytes in two 32-bit halves, each a MurmurHash3 (x86, 32-bit) with
 * its own seed and constants over the same 4-byte words, so the halves vary independently. One pass
 * of words: every key of a run is fingerprinted (a dry run's later sources look it up again), and two
 * byte-at-a-time hashes cost 0.17 µs more a key (1,000,000 keys, has then add: 420 against 250 ms).
 * (0, 0) marks an empty slot: never given.
 */
function fingerprint(bytes: Buffer): void {
  const length = bytes.length;
  let h1 = 0x9747b28c ^ length;
  let h2 = 0x3c6ef372 ^ length;
  const words = length & ~3;
  let i = 0;
  for (; i < words; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h1 ^= mix1(k);
    h1 = Math.imul((h1 << 13) | (h1 >>> 19), 5) + 0xe6546b64;
    h2 ^= mix2(k);
    h2 = Math.imul((h2 << 15) | (h2 >>> 17), 5) + 0x52dce729;
  }
  const rest = length & 3;
  if (rest > 0) {
    let tail = bytes[i]!;
    if (rest > 1) tail |= bytes[i + 1]! << 8;
    if (rest > 2) tail |= bytes[i + 2]! << 16;
    h1 ^= mix1(tail);
    h2 ^= mix2(tail);
  }
  fpHi = fmix(h1);
  fpLo = fmix(h2);
  if (fpHi === 0 && fpLo === 0) fpHi = 1;
}

function mix1(k: number): number {
  const a = Math.imul(k, 0xcc9e2d51);
  return Math.imul((a << 15) | (a >>> 17), 0x1b873593);
}

function mix2(k: number): number {
  const a = Math.imul(k, 0x239b961b);
  return Math.imul((a << 17) | (a >>> 15), 0xab0e9789);
}

/** MurmurHash3's finalizer: every input bit reaches every output bit. */
function fmix(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return x ^ (x >>> 16);
}
