import type { Caps } from '../servers/caps.js';
import type { TargetClock } from '../servers/clock.js';
import { sendIdempotent } from '../servers/confirm.js';
import type { Command } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import { restoreKeys } from './prior.js';
import { openJournal, openWindows } from './reader.js';
import type { ResumeState } from './resume-state.js';
import type { JournaledKey } from './types.js';

/** Puts back and cleans up after an interrupted run: the unsettled steps' keys, then its temporary keys. */
export async function putBack(
  path: string,
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  state: ResumeState,
): Promise<void> {
  await restoreFromJournal(path, target, caps, clock, state.unsettled);
  // One DEL per key: on a cluster, keys of different slots cannot share a command.
  for (let i = 0; i < state.tempKeys.length; i += 256) {
    const dels = state.tempKeys.slice(i, i + 256).map((key): Command => ['DEL', key]);
    await sendIdempotent(target, dels, 'the target refused to delete a temporary key');
  }
}

/**
 * Puts each failed key (ResumeState.failed) back into its first prior, the state before the run's
 * first change to it: the resume then applies every source's step on it again, in order.
 */
export async function putBackFailed(
  path: string,
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  failed: readonly Buffer[],
): Promise<void> {
  if (failed.length === 0) return;
  const wanted = new Set(failed.map((k) => k.toString('latin1')));
  const journal = await openJournal(path);
  async function* firstPriorsOfFailed(): AsyncGenerator<JournaledKey> {
    for await (const entry of journal.firstPriors())
      if (wanted.has(entry.key.toString('latin1'))) yield entry;
  }
  await restoreFromJournal(path, target, caps, clock, firstPriorsOfFailed());
}

/** Puts keys back into journaled priors, 256 to a pipeline, big ones from the journal's windows. */
async function restoreFromJournal(
  path: string,
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  entries: Iterable<JournaledKey> | AsyncIterable<JournaledKey>,
): Promise<void> {
  const windows = await openWindows(path);
  try {
    let batch: JournaledKey[] = [];
    for await (const entry of entries) {
      batch.push(entry);
      if (batch.length < 256) continue;
      await restoreKeys(target, caps, clock, batch, windows.read);
      batch = [];
    }
    await restoreKeys(target, caps, clock, batch, windows.read);
  } finally {
    await windows.close();
  }
}
