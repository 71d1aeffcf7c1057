/**
 * The token bucket behind `--rate N` (SPEC §9.5): N tokens a second, one per key. A batch reserves
 * its keys at once and is told how long to wait for them, so that keys a second over time equal the
 * rate whatever the batch size: a batch of 500 at rate 100 from an empty bucket waits 5 s. The
 * balance may go below zero (tokens promised to batches still waiting), which makes the waits FIFO
 * without a queue: each reservation waits behind every earlier one. The bucket starts empty, and
 * what an idle spell accrues is capped at max(rate, the last batch) (at most one second's burst, or
 * one batch larger than that).
 */
export class TokenBucket {
  private tokens = 0;
  private capacity: number;
  private last: number;

  constructor(
    readonly rate: number,
    private readonly clock: () => number,
  ) {
    if (!(rate > 0) || !Number.isFinite(rate))
      throw new RangeError(`rate must be a positive number, not ${rate}`);
    this.capacity = rate;
    this.last = clock();
  }

  /** Takes `keys` tokens; returns the ms to wait before they have accrued (0: at once). */
  reserve(keys: number): number {
    this.refill();
    this.capacity = Math.max(this.rate, keys);
    this.tokens -= keys;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  /** Gives back what a reservation took (its batch was aborted before it went). */
  refund(keys: number): void {
    this.refill();
    this.tokens = Math.min(this.capacity, this.tokens + keys);
  }

  private refill(): void {
    const now = this.clock();
    const earned = ((now - this.last) / 1000) * this.rate;
    this.last = now;
    if (this.tokens < this.capacity) this.tokens = Math.min(this.capacity, this.tokens + earned);
  }
}
