import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { ConfigError } from '../common/errors.js';
import { ACTION_COUNTER } from './counters.js';
import type { RunEvents } from './events.js';
import type { FollowProgress } from './progress-json.js';
import type { ProgressSink } from './types.js';

/** The outcomes a key is counted under (report `totals`), as the `outcome` label says them. */
const OUTCOMES = Object.values(ACTION_COUNTER);

/**
 * `--metrics-port PORT` (SPEC §11): Prometheus metrics on http://127.0.0.1:PORT/metrics for as long as
 * the run lasts. A private Registry: a library user's own registry (and its default metrics) stays
 * theirs. Every value is read when scraped, from the run's tally, its event channel and the progress
 * it is given: the hot path does nothing more for it. Loopback only: the figures name sources and keys
 * counts, and the port has no authentication.
 */
export class MetricsServer {
  readonly registry = new Registry();
  /** Receives the run's progress: keys scanned and estimated per source. */
  readonly progress: ProgressSink;
  private readonly scanned = new Map<string, number>();
  private readonly estimated = new Map<string, number>();
  private lagSec = 0;
  private pending = 0;
  private verified = { checked: 0, differences: 0 };

  private constructor(
    private readonly server: http.Server,
    events: RunEvents,
    follow: boolean,
  ) {
    const registers = [this.registry];
    const names: string[] = [];
    const scanned = this.scanned;
    const estimated = this.estimated;
    this.progress = {
      planned: (sources) => {
        for (const s of sources) estimated.set(s.name, s.estimatedKeys);
      },
      sourceStarted: (index, name, keys) => {
        names[index] = name;
        if (keys > 0 || !estimated.has(name)) estimated.set(name, keys);
        scanned.set(name, 0);
      },
      update: (index, done, keys) => {
        const name = names[index];
        if (name === undefined) return;
        scanned.set(name, done);
        if (keys > 0) estimated.set(name, keys);
      },
      sourceFinished: () => {},
      stop: () => {},
    };
    new Counter({
      name: 'kvmerge_keys_total',
      help: 'Keys settled, by outcome (created, overridden, merged, skipped, expired, failed) and source type',
      labelNames: ['outcome', 'type'],
      registers,
      collect() {
        this.reset();
        const byType = events.tally?.byType() ?? {};
        for (const [type, counts] of Object.entries(byType)) {
          for (const outcome of OUTCOMES)
            if (counts[outcome] > 0) this.inc({ outcome, type }, counts[outcome]);
        }
      },
    });
    new Counter({
      name: 'kvmerge_source_keys_scanned_total',
      help: 'Keys scanned from each source so far',
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        for (const [source, n] of scanned) this.inc({ source }, n);
      },
    });
    new Gauge({
      name: 'kvmerge_source_keys_estimated',
      help: "Each source's estimated key count (DBSIZE, or the SCAN cursor's guess under match; 0 unknown)",
      labelNames: ['source'],
      registers,
      collect() {
        for (const [source, n] of estimated) this.set({ source }, n);
      },
    });
    new Counter({
      name: 'kvmerge_bytes_sent_total',
      help: 'Bytes of commands written to the target and to the sources (the hot path connections)',
      labelNames: ['to'],
      registers,
      collect() {
        this.reset();
        this.inc({ to: 'target' }, events.bytesSent.target);
        this.inc({ to: 'source' }, events.bytesSent.source);
      },
    });
    const counted = (name: string, help: string, kind: keyof RunEvents['counts']): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(events.counts[kind]);
        },
      });
    };
    counted('kvmerge_reconnects_total', 'Connections re-established after a drop', 'reconnect');
    counted('kvmerge_failovers_total', 'Reconnections that reached another master (Sentinel)', 'failover');
    counted('kvmerge_topology_changes_total', "Changes of a cluster's slot table seen", 'topology');
    counted('kvmerge_fallbacks_total', 'Keys written natively instead of with DUMP/RESTORE', 'fallback');
    const self = this;
    new Counter({
      name: 'kvmerge_verify_keys_checked_total',
      help: 'kvmerge verify: keys checked so far',
      registers,
      collect() {
        this.reset();
        this.inc(self.verified.checked);
      },
    });
    new Gauge({
      name: 'kvmerge_verify_differences',
      help: 'kvmerge verify: keys found different so far',
      registers,
      collect() {
        this.set(self.verified.differences);
      },
    });
    if (follow) {
      new Gauge({
        name: 'kvmerge_follow_lag_seconds',
        help: 'During --follow: age of the oldest change not yet applied',
        registers,
        collect() {
          this.set(self.lagSec);
        },
      });
      new Gauge({
        name: 'kvmerge_follow_pending_keys',
        help: 'During --follow: keys changed on a source and not yet folded again',
        registers,
        collect() {
          this.set(self.pending);
        },
      });
    }
  }

  /**
   * Listens on 127.0.0.1:port. A port in use (or not allowed) is a usage error (exit 2), found before
   * any connection to a server, so before any write.
   */
  static async start(port: number, events: RunEvents, opts: { follow: boolean }): Promise<MetricsServer> {
    let metrics: MetricsServer | undefined;
    const server = http.createServer((req, res) => {
      if (!metrics || req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
        return;
      }
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics!.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const why =
          err.code === 'EADDRINUSE' ? 'is in use' : `cannot be listened on (${err.code ?? err.message})`;
        reject(new ConfigError('--metrics-port', `127.0.0.1:${port} ${why}; pick another port`));
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
    // A scrape in progress must not keep a finished run alive.
    server.unref();
    metrics = new MetricsServer(server, events, opts.follow);
    return metrics;
  }

  /** The port it listens on (the one asked for, or the system's choice for 0). */
  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** A verify's progress. */
  checked(checked: number, differences: number): void {
    this.verified = { checked, differences };
  }

  follow(status: FollowProgress): void {
    this.lagSec = status.lagMs / 1000;
    this.pending = status.pending;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
