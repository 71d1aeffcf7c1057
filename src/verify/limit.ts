import pLimit, { type LimitFunction } from 'p-limit';

/**
 * Batches checked at most `n` at once (p-limit), with back-pressure: run() returns once a slot is free,
 * so the scan never runs more than `n` batches ahead; the first failure is thrown by a later run() or
 * by idle().
 */
export class Limit {
  private readonly limit: LimitFunction;
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;

  constructor(n: number) {
    this.limit = pLimit(n);
  }

  async run(task: () => Promise<void>): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const p = this.limit(task).catch((err: unknown) => {
      this.failure ??= err;
    });
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    // p-limit runs n at once and queues the rest: wait until nothing waits behind the n.
    while (this.limit.pendingCount > 0) await Promise.race(this.running);
  }

  async idle(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure !== undefined) throw this.failure;
  }
}
