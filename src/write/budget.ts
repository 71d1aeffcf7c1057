/**
 * A bound on the bytes of values held in memory at once, across all batches in flight (SPEC §2.2):
 * batches bound the number of keys, this bounds their size, so a run of large values waits
 * instead of exhausting memory. A request larger than the whole budget waits until it is alone.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: { bytes: number; wake: () => void }[] = [];

  constructor(readonly limit: number) {}

  async acquire(bytes: number): Promise<number> {
    const take = Math.min(Math.max(bytes, 1), this.limit);
    if (this.waiting.length > 0 || this.used + take > this.limit) {
      await new Promise<void>((wake) => this.waiting.push({ bytes: take, wake }));
    } else {
      this.used += take;
    }
    return take;
  }

  release(taken: number): void {
    this.used -= taken;
    // First come, first served: a large request is not starved by a stream of small ones.
    while (this.waiting.length > 0 && this.used + this.waiting[0]!.bytes <= this.limit) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.wake();
    }
  }

  get inUse(): number {
    return this.used;
  }
}
