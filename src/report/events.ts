import type { ServerEvent, ServerEvents } from '../servers/events.js';
import type { Tally } from './tally.js';

/** Everything the run says as it happens, beside progress: the servers' events and the run's own. */
export type RunEvent =
  | ServerEvent
  /** A key went the native path instead of DUMP/RESTORE (SPEC §2.1). */
  | { kind: 'fallback'; source: string; reason: string };

export type RunEventKind = RunEvent['kind'];

/**
 * The run's one event channel (DESIGN.md: the account reads the same events for report, progress and
 * metrics). The CLI creates it and subscribes its renderers (live log lines, --progress-json,
 * --metrics-port); the run hands it to every connection (NetworkOptions.events) and to the context,
 * so a reconnect deep in a pipe reaches the operator without a callback threaded through each layer.
 * A listener that throws is the renderer's bug, never the run's: it is swallowed.
 */
export class RunEvents implements ServerEvents {
  private readonly listeners: ((event: RunEvent) => void)[] = [];
  /** Events emitted so far, by kind (for the metrics and the tests). */
  readonly counts: Record<RunEventKind, number> = {
    reconnect: 0,
    failover: 0,
    topology: 0,
    fallback: 0,
  };
  /** Bytes written to the target's and to the sources' connections. */
  readonly bytesSent = { target: 0, source: 0 };
  /** The run's tally once it exists: the metrics read keys by outcome and type from it when scraped. */
  tally?: Tally;

  on(listener: (event: RunEvent) => void): void {
    this.listeners.push(listener);
  }

  emit(event: RunEvent): void {
    this.counts[event.kind]++;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A renderer's failure must not stop a merge.
      }
    }
  }

  /** Connection labels start with their role ('target …', 'source NAME …', see run/connect.ts). */
  sent(server: string, bytes: number): void {
    if (server.startsWith('target')) this.bytesSent.target += bytes;
    else this.bytesSent.source += bytes;
  }
}
