import type { KeyAtWork } from '../types/strategy.js';

/**
 * One step of the fold as the journal names it: a key at work (KeyAtWork, types/strategy.ts) without
 * its source, which the door it goes through is bound to.
 */
export interface StepKey extends Omit<KeyAtWork, 'source'> {
  /**
   * The probe found no key there and the step is a create that cannot overwrite one (RESTORE without
   * REPLACE answers BUSYKEY instead): its prior state is "absent" without asking the target.
   */
  absent?: boolean;
}

/**
 * The writer's door to the journal (DESIGN.md seam 5), bound to one source: every change to the
 * target is announced before it is sent and settled after its reply. Absent without --backup.
 */
export interface WriteDoor {
  /** Journals the steps' prior states; resolves once they are durable. Nothing may be sent before. */
  before(steps: readonly StepKey[]): Promise<void>;
  /** Journals a temporary key before it is created (durable), so a crash cannot leave it unknown. */
  temp(key: Buffer): Promise<void>;
  /** The steps were applied (their replies came). */
  applied(steps: readonly StepKey[]): void;
}

/**
 * The write side's way into the journal (DESIGN.md seam 5): only the write module opens a door, so the
 * run hands over where doors come from (the Backup, absent without --backup) and never journals itself.
 */
export interface Doors {
  /** The door of one source: its steps are journaled under that source. */
  door(source: number): WriteDoor;
}

/** The door of one source, for a writer that journals its own steps as it goes (a big key's copy). */
export function openDoor(doors: Doors | undefined, source: number): WriteDoor | undefined {
  return doors?.door(source);
}

/**
 * Journal timing (SPEC §6.2): the prior states of a group's steps are journaled while its values are
 * read, not after, so the journal costs no round trip of its own. Called before the reads start; the
 * door returned has that journaling under way: its `before` waits for it (the writer only ever asks
 * for steps among these), and nothing is sent before it is durable. A failure surfaces there, not as
 * an unhandled rejection.
 */
export function openDoorAhead(
  doors: Doors | undefined,
  source: number,
  steps: readonly StepKey[],
): WriteDoor | undefined {
  if (!doors) return undefined;
  const door = doors.door(source);
  const journaled = door.before(steps);
  journaled.catch(() => undefined);
  return { ...door, before: () => journaled };
}
