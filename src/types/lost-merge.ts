import type { Applied } from '../servers/confirm.js';
import type { Command, Reply } from '../servers/resp.js';

export type { Applied } from '../servers/confirm.js';

/** What the writer knew of the target before it sent a merge. */
export interface BeforeMerge {
  key: Buffer;
  /** A list's length before the step (read with the merge's TTL, or from the list a union read). */
  targetLength?: number;
  /** The replies of readBefore(), where they were read. */
  before?: Reply[];
}

/**
 * How a merge of one type is told applied or not after a drop hid its reply, where sending it again
 * would apply it twice (a list push, a zset sum: SPEC §1.6). A type without one merges idempotently,
 * so its merge is simply sent again.
 */
export interface LostMergeCheck {
  /**
   * The target's length the step starts from, where the check needs it: read beside the merge's TTL
   * (`command`), or taken from the present value where the merge reads it anyway (`of`).
   */
  lengthBefore?: { command(key: Buffer): Command; of(current: unknown): number };
  /** Reads sent in a round trip of their own just before the merge; [] where none are needed. */
  readBefore(commands: readonly Command[]): Command[];
  /** The reads that tell after the drop; null: this merge is idempotent after all (sent again). */
  reads(commands: readonly Command[], known: BeforeMerge): Command[] | null;
  /** The verdict from the replies of reads(). */
  judge(commands: readonly Command[], known: BeforeMerge, replies: readonly Reply[]): Applied;
  /** Said after the common failure message where the outcome cannot be told. */
  unknownNote: string;
}
