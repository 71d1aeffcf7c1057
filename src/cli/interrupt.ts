import { EXIT } from './exit-codes.js';

export interface Interrupt {
  /** Aborted on the first Ctrl-C (or SIGTERM). */
  readonly signal: AbortSignal;
  /** Removes the signal handlers: Ctrl-C gets its default meaning back. */
  dispose(): void;
}

export interface InterruptOptions {
  /** Called on the first signal, after the abort: tell the user what happens now. */
  onFirst: () => void;
  /** Called on the second signal, just before the process exits with 130: last words, synchronous. */
  onForce?: () => void;
}

/**
 * Ctrl-C for a run: the first SIGINT (or SIGTERM) aborts the signal so the run stops scanning and lets
 * its in-flight batches settle, then reports `interrupted`; a second one ends the process at once
 * (exit 130), the only place where the CLI calls process.exit.
 */
export function handleInterrupts(opts: InterruptOptions): Interrupt {
  const controller = new AbortController();
  const onSignal = (): void => {
    if (!controller.signal.aborted) {
      controller.abort();
      opts.onFirst();
      return;
    }
    opts.onForce?.();
    process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
  };
}

export const INTERRUPT_NOTICE = 'interrupting: letting in-flight batches finish (Ctrl-C again to force)';
