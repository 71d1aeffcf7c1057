import pLimit, { type LimitFunction } from 'p-limit';

/**
 * At most `concurrency` tasks at once (p-limit), with back-pressure: `run` resolves once a slot is
 * free for the next task, so a producer that awaits it (a scan, the journal's reader) never gets more
 * than `concurrency` tasks ahead, and memory holds that many batches (SPEC §2.2). A task's failure is
 * kept and thrown by the next `run` or by `idle`, so the producer stops at the first one; the run
 * loop's tasks catch their own. Shared by merge, resume and verify.
 */
export class Limiter {
  private readonly limit: LimitFunction;
  private readonly running = new Set<Promise<void>>();
  // Boxed: a task may throw undefined, and that still counts as a failure.
  private failure: { error: unknown } | undefined;

  constructor(readonly concurrency: number) {
    this.limit = pLimit(concurrency);
  }

  async run(task: () => Promise<void>): Promise<void> {
    if (this.failure) throw this.failure.error;
    const settled = this.limit(task).catch((error: unknown) => {
      this.failure ??= { error };
    });
    this.running.add(settled);
    void settled.finally(() => this.running.delete(settled));
    // Counted here, not by p-limit's activeCount: that one only catches up a few microtasks later.
    while (this.running.size >= this.concurrency) await Promise.race(this.running);
  }

  /**
   * Resolves once a slot is free (a task may start at once), so that a consumer takes its next piece
   * of work only then: under load, work accumulates into bigger pieces instead of waiting as small ones.
   */
  async free(): Promise<void> {
    while (this.running.size >= this.concurrency) await Promise.race(this.running);
  }

  /** Resolves once every task started has settled; throws the first failure. */
  async idle(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure) throw this.failure.error;
  }
}
