/**
 * What a connection reports as it happens, beside counting it: the run's event channel
 * (report/events.ts) implements this, and every pipe gets it through its NetworkOptions, so no caller
 * threads a callback of its own. Absent (a library user who passes none), nothing is reported.
 */
export type ServerEvent =
  /** The connection was re-established after a drop (`reason`: why it dropped). */
  | { kind: 'reconnect'; server: string; reason: string }
  /** Behind Sentinel: the reconnection reached another master than before. */
  | { kind: 'failover'; server: string; from: string; to: string }
  /** A cluster's slot table changed (a reshard, a failover, a node gone). */
  | { kind: 'topology'; server: string; detail: string };

export interface ServerEvents {
  emit(event: ServerEvent): void;
  /** Bytes written to a server (commands, as encoded), for the metrics. */
  sent(server: string, bytes: number): void;
}
