import type { RunEvent, RunEvents } from './events.js';
import { LogThrottle } from './log-throttle.js';

/** The line an event gets in the log (SPEC §11: logged as it happens, not only counted). */
export function eventLine(e: RunEvent): string {
  switch (e.kind) {
    case 'reconnect':
      return `reconnected to ${e.server} (the connection was lost: ${e.reason})`;
    case 'failover':
      return `failover: ${e.server} now reaches the master at ${e.to} (was ${e.from})`;
    case 'topology':
      return `topology: ${e.server}: the slot table changed (${e.detail})`;
    case 'fallback':
      return `fallback: a key of source ${e.source} written natively instead of with DUMP/RESTORE (${e.reason})`;
  }
}

/**
 * Logs the run's events as they happen, at most one line per kind per `intervalMs` (a flapping link
 * or a run of fallbacks must not flood the log); a line after a held-back spell says how many were not
 * shown, and `close` says the rest. Returns `close`, for the end of the run.
 */
export function logEvents(
  events: RunEvents,
  log: (line: string) => void,
  intervalMs = 1000,
  now: () => number = Date.now,
): () => void {
  const throttle = new LogThrottle(intervalMs);
  events.on((e) => {
    const line = throttle.take(e.kind, eventLine(e), now());
    if (line !== null) log(line);
  });
  return () => {
    for (const { kind, held } of throttle.flush())
      log(`${held} more ${kind} event(s) not shown (see the counts)`);
  };
}
