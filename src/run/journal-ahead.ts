import type { StepKey, WriteDoor } from '../journal/types.js';

/**
 * Journal timing (SPEC §6.2): the prior states of a group's steps are journaled while its values are
 * read, not after, so the journal costs no round trip of its own. The door returned has that
 * journaling under way: its `before` waits for it (the writer only ever asks for steps among these),
 * and nothing is sent before it is durable. A failure surfaces there, not as an unhandled rejection.
 */
export function journalAhead(door: WriteDoor, steps: StepKey[]): WriteDoor {
  const journaled = door.before(steps);
  journaled.catch(() => undefined);
  return { ...door, before: () => journaled };
}
