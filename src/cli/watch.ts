import { RunEvents } from '../report/events.js';
import { logEvents } from '../report/live-log.js';
import { createProgress, type ProgressMode } from '../report/progress.js';
import { type FollowProgress, JsonProgress } from '../report/progress-json.js';
import type { ProgressSink } from '../report/types.js';
import type { DisplayFlags } from './options.js';
import type { Output } from './output.js';

/** How the operator watches a run (SPEC §11): the renderers the CLI hangs on the run's hooks. */
export interface Watch {
  events: RunEvents;
  /** Bars or plain lines, the JSON events and the metrics, fed together. */
  progress: ProgressSink;
  /** A follow's status (lag, pending keys, its passes). */
  followStatus(status: FollowProgress): void;
  /** A verify's progress: keys checked, differences found. */
  checked(checked: number, differences: number): void;
  /** --progress-json's `done` (nothing without it). */
  done(fields: Parameters<JsonProgress['done']>[0]): void;
  /** Called when the process must stop drawing at once (a second Ctrl-C). */
  stopDrawing(): void;
  /** The end of the run: held-back event lines said, the metrics port closed. */
  close(): Promise<void>;
  /** What the plain renderer is, for the Ctrl-C notice. */
  mode: ProgressMode;
}

/**
 * Sets up the watching of a run: the event channel, the live event lines (through `out`, so --quiet
 * holds them back), --progress-json (which replaces the bars and lines, is printed under --quiet too,
 * and takes over stderr's other lines so that all of it is JSON), and --metrics-port, whose port is
 * opened here, before any server is touched (a port in use is exit 2 with nothing written).
 */
export async function watchRun(
  display: DisplayFlags,
  out: Output,
  start: { command: string; sources: string[]; dryRun?: boolean; follow?: boolean },
): Promise<Watch> {
  const events = new RunEvents();
  // prom-client is loaded only when asked for: a run without metrics does not pay for it.
  const metrics =
    display.metricsPort !== undefined
      ? await (await import('../report/metrics.js')).MetricsServer.start(display.metricsPort, events, {
          follow: start.follow === true,
        })
      : undefined;
  let json: JsonProgress | undefined;
  if (display.progressJson) {
    const sink = jsonLines(out);
    json = sink;
    events.on((e) => sink.event(e));
    json.begin({ command: start.command, sources: start.sources, dryRun: start.dryRun ?? false });
  }
  const closeLog = logEvents(events, (line) => out.info(line));
  const mode = display.progressJson ? 'none' : progressMode(display);
  const plain = await createProgress({ stream: process.stderr, mode });
  const sinks = [plain, json, metrics?.progress].filter((s): s is ProgressSink => s !== undefined);
  const progress: ProgressSink = {
    planned: (sources) => {
      for (const s of sinks) s.planned?.(sources);
    },
    sourceStarted: (...args) => {
      for (const s of sinks) s.sourceStarted(...args);
    },
    update: (...args) => {
      for (const s of sinks) s.update(...args);
    },
    sourceFinished: (index) => {
      for (const s of sinks) s.sourceFinished(index);
    },
    stop: () => {
      for (const s of sinks) s.stop();
    },
  };
  return {
    events,
    progress,
    mode,
    followStatus: (status) => {
      json?.follow(status);
      metrics?.follow(status);
    },
    checked: (checked, differences) => {
      json?.checked(checked, differences);
      metrics?.checked(checked, differences);
    },
    // The events counted over the run (reconnects, failovers, …) go with the totals.
    done: (fields) => json?.done({ ...fields, events: { ...events.counts } }),
    stopDrawing: () => plain.stop(),
    close: async () => {
      plain.stop();
      closeLog();
      await metrics?.close();
    },
  };
}

/**
 * With --progress-json, stderr's lines (messages, errors) from now on as JSON events, so that all of
 * stderr is JSON, from the first error (a bad configuration) on.
 */
export function jsonLines(out: Output): JsonProgress {
  const json = new JsonProgress({
    write: (line) => process.stderr.write(line),
    redact: (value) => out.redactDeep(value),
  });
  out.routeLines((message, level) => json.log(message, level));
  return json;
}

/** SPEC §5.1: bars on a terminal, plain status lines otherwise or with --no-progress, nothing with --quiet. */
export function progressMode(
  display: DisplayFlags,
  stream: NodeJS.WriteStream = process.stderr,
): ProgressMode {
  if (display.quiet) return 'none';
  if (!display.progress || !stream.isTTY) return 'lines';
  return 'bars';
}
