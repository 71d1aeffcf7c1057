/**
 * At most `concurrency` tasks at once, with back-pressure: `run` resolves once the task has started
 * and a slot is free for the next, so a producer that awaits it (the scan) never gets more than
 * `concurrency` tasks ahead, and memory holds that many batches (SPEC §2.2). A task's failure is
 * kept and thrown by the next `run` or by `idle`; the run loop's tasks catch their own.
 */
export class Limiter {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(readonly concurrency: number) {}

  async run(task: () => Promise<void>): Promise<void> {
    if (this.failure) throw this.failure.error;
    const started = task().catch((error: unknown) => {
      this.failure ??= { error };
    });
    this.running.add(started);
    void started.finally(() => this.running.delete(started));
    while (this.running.size >= this.concurrency) await Promise.race(this.running);
  }

  /** Resolves once every task started has settled. */
  async idle(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure) throw this.failure.error;
  }
}
