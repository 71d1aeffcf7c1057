/**
 * At most one line per kind per `intervalMs`: a flapping connection or ten thousand fallbacks must not
 * flood the log, yet the first of each is said at once and none goes uncounted. A line let through
 * after a quiet spell says how many of its kind were held back since the last one; `flush` gives the
 * kinds still holding some back (said at the end of the run). Time comes from the caller.
 */
export class LogThrottle {
  private readonly last = new Map<string, number>();
  private readonly held = new Map<string, number>();

  constructor(private readonly intervalMs: number) {}

  /** The line to print now (with the count held back since the last one), or null to hold it back. */
  take(kind: string, line: string, now: number): string | null {
    const at = this.last.get(kind);
    if (at !== undefined && now - at < this.intervalMs) {
      this.held.set(kind, (this.held.get(kind) ?? 0) + 1);
      return null;
    }
    this.last.set(kind, now);
    const held = this.held.get(kind) ?? 0;
    this.held.delete(kind);
    return held > 0 ? `${line} (${held} more ${kind} event(s) not shown)` : line;
  }

  /** Per kind, how many were held back since its last line, and forgets them. */
  flush(): { kind: string; held: number }[] {
    const out = [...this.held].map(([kind, held]) => ({ kind, held }));
    this.held.clear();
    return out;
  }
}
