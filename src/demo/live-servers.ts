/**
 * The registry of the local servers this process started and not yet stopped, and their end: killed
 * on exit (and on SIGINT, SIGTERM, SIGHUP unless the program handles those itself), or one by one.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

const STOP_GRACE_MS = 5_000;

/** A started server: its process (once spawned) and its working directory. */
export interface Live {
  child?: ChildProcess;
  dir: string;
}

/** Every server started by this process and not yet stopped. */
export const live = new Set<Live>();
let exitHookInstalled = false;
let signalHooksInstalled = false;

/** Kills every live server when this process exits, and (`onSignals`) on SIGINT, SIGTERM and SIGHUP. */
export function installExitHooks(onSignals: boolean): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // 'exit' handlers must be synchronous: SIGKILL and rmSync.
    process.on('exit', stopAllLocalRedisSync);
  }
  if (onSignals && !signalHooksInstalled) {
    signalHooksInstalled = true;
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const onSignal = (): void => {
        stopAllLocalRedisSync();
        process.removeListener(signal, onSignal);
        // Re-raise so the default action (or another handler) still ends the process.
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      };
      process.on(signal, onSignal);
    }
  }
}

/**
 * Kills every local server this process started and still runs, and removes their directories, without
 * waiting: for 'exit' handlers and a forced exit on a second Ctrl-C.
 */
export function stopAllLocalRedisSync(): void {
  for (const entry of live) {
    try {
      entry.child?.kill('SIGKILL');
    } catch {
      // already gone
    }
    try {
      rmSync(entry.dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  live.clear();
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL if the server has not exited after STOP_GRACE_MS. */
export async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (await waitForExit(child, STOP_GRACE_MS)) return;
  child.kill('SIGKILL');
  await waitForExit(child, STOP_GRACE_MS);
}
