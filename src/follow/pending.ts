/**
 * The target keys that changed and are not folded again yet (SPEC §9.3, §9.4), oldest change first. A
 * key changed again while pending keeps its first time (the lag is the age of the oldest change not
 * yet applied). A key being folded is not handed out again until that fold has been written: two folds
 * of one key side by side could write the older read last.
 */
export class Pending {
  /** Key (latin1) → when its first change not yet applied came: no Buffer or object per key held. */
  private readonly keys = new Map<string, number>();
  private readonly inFlight = new Set<string>();

  /** `max`: --follow-max-pending, the most keys held; past it, add() refuses. */
  constructor(private readonly max: number) {}

  /** Adds a changed key; false when the set is full (the key is not held: a pass must find it). */
  add(key: Buffer, at: number): boolean {
    const id = key.toString('latin1');
    if (this.keys.has(id)) return true;
    if (this.keys.size >= this.max) return false;
    this.keys.set(id, at);
    return true;
  }

  /** Up to `n` keys, oldest first, skipping those being folded; they are in flight until done(). */
  take(n: number): { key: Buffer; since: number }[] {
    const out: { key: Buffer; since: number }[] = [];
    for (const [id, since] of this.keys) {
      if (out.length >= n) break;
      if (this.inFlight.has(id)) continue;
      this.keys.delete(id);
      this.inFlight.add(id);
      out.push({ key: Buffer.from(id, 'latin1'), since });
    }
    return out;
  }

  /** The fold of these keys was written (or failed: they are added again by the caller). */
  done(keys: readonly Buffer[]): void {
    for (const key of keys) this.inFlight.delete(key.toString('latin1'));
  }

  get size(): number {
    return this.keys.size;
  }

  get busy(): number {
    return this.inFlight.size;
  }

  /** Whether take() would give anything now. */
  get ready(): boolean {
    if (this.keys.size > this.inFlight.size) return true;
    for (const id of this.keys.keys()) if (!this.inFlight.has(id)) return true;
    return false;
  }

  /** Age in ms of the oldest pending change (0 when none). */
  lag(now: number): number {
    const first = this.keys.values().next();
    return first.done ? 0 : now - first.value;
  }

  /** Drops every pending key (a pass over every source will fold them anyway). */
  clear(): void {
    this.keys.clear();
  }
}
