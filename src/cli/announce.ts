import { allSkippedWarning, describeStrategies } from '../config/describe-strategies.js';
import type { MergePlan } from '../config/plan.js';
import type { ProgressSink } from '../report/types.js';
import type { Output } from './output.js';

export interface Announcer {
  /** Says it now, unless already said. */
  now(): void;
  /** A log line of the run, after the announcement. */
  log(line: string): void;
  /** The progress sink, announcing before its first source starts. */
  progress(sink: ProgressSink): ProgressSink;
}

/**
 * The run's opening lines (stderr, not under --quiet): the effective strategies, and for a merge the
 * warning when every conflict will be skipped. Said once the run gives its first sign of life (a log
 * line, a source starting, the end), not when the plan is loaded: a run that cannot start (an
 * unreachable server, a journal of another plan) stays a single error line.
 */
export function planAnnouncer(plan: MergePlan, out: Output, command: 'merge' | 'verify'): Announcer {
  let said = false;
  const now = (): void => {
    if (said) return;
    said = true;
    out.info(describeStrategies(plan));
    const warning = command === 'merge' ? allSkippedWarning(plan) : undefined;
    if (warning) out.info(warning);
  };
  return {
    now,
    log: (line) => {
      now();
      out.info(line);
    },
    progress: (sink) =>
      new Proxy(sink, {
        get(target, key) {
          if (key === 'sourceStarted') {
            return (...args: Parameters<ProgressSink['sourceStarted']>) => {
              now();
              target.sourceStarted(...args);
            };
          }
          const value = Reflect.get(target, key);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }),
  };
}
