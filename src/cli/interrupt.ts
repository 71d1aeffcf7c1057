import { constants } from 'node:os';
import { EXIT } from './exit-codes.js';

export interface Interrupt {
  /** Aborted on the first Ctrl-C (or SIGTERM, or SIGHUP). */
  readonly signal: AbortSignal;
  /**
   * The exit code of a run this stopped: 128 + the signal's number, as shells report a process a
   * signal ended (SIGINT 130, SIGTERM 143, SIGHUP 129); 130 before any signal came.
   */
  readonly exitCode: number;
  /** Removes the signal handlers: Ctrl-C gets its default meaning back. */
  dispose(): void;
}

export interface InterruptOptions {
  /** Called on the first signal, after the abort: tell the user what happens now. */
  onFirst: () => void;
  /** Called on the second signal, just before the process exits: last words, synchronous. */
  onForce?: () => void;
}

/** The signals that stop a run: Ctrl-C, a service manager's stop, a closed terminal. */
const STOPS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type Stop = (typeof STOPS)[number];

const codeOf = (name: Stop): number => 128 + constants.signals[name];

/**
 * Ctrl-C for a run: the first SIGINT, SIGTERM or SIGHUP aborts the signal so the run stops scanning
 * and lets its in-flight batches settle, then reports `interrupted` (exit 128 + the signal's number);
 * a second one ends the process at once with that code, the only place where the CLI calls
 * process.exit.
 */
export function handleInterrupts(opts: InterruptOptions): Interrupt {
  const controller = new AbortController();
  let received: Stop | undefined;
  const handlers = STOPS.map((name) => {
    const onSignal = (): void => {
      if (!controller.signal.aborted) {
        received = name;
        controller.abort();
        opts.onFirst();
        return;
      }
      opts.onForce?.();
      process.exit(codeOf(name));
    };
    process.on(name, onSignal);
    return [name, onSignal] as const;
  });
  return {
    signal: controller.signal,
    get exitCode() {
      return received ? codeOf(received) : EXIT.interrupted;
    },
    dispose() {
      for (const [name, onSignal] of handlers) process.removeListener(name, onSignal);
    },
  };
}

/** A run's exit code, with "interrupted" told by the signal that interrupted it. */
export function withSignal(code: number, interrupt: Interrupt): number {
  return code === EXIT.interrupted ? interrupt.exitCode : code;
}

export const INTERRUPT_NOTICE = 'interrupting: letting in-flight batches finish (Ctrl-C again to force)';
