/**
 * What the backup journal (SPEC §6.2) says of one target key: its state before the run changed it.
 * Shared by the journal's writer and reader, rollback, resume and verify.
 */
export type PriorState =
  /** The key did not exist: rollback deletes it. */
  | { kind: 'absent' }
  /** A DUMP payload and the key's absolute expiry in ms since the epoch (null: no TTL). */
  | { kind: 'dump'; payload: Buffer; expireAt: number | null }
  /**
   * A native image, where the target has no DUMP (Pika): the value as its codec decodes it
   * (string: Buffer; hash: [field, value][]; set: Buffer[]; zset: [member, score][]; list: Buffer[];
   * stream: entries) and the absolute expiry in ms (null: no TTL).
   */
  | { kind: 'native'; type: string; value: unknown; expireAt: number | null }
  /**
   * A big key (over write.bigKeyElements elements or write.bigKeyBytes bytes) as a native image in
   * windows: `at` holds the journal offsets of its `window` records, in order, each one window of the
   * type's flat layout (hash: field, value, …; zset: score, member, …; set and list: elements; string:
   * one chunk). Never held whole in memory: written and put back a window at a time.
   */
  | { kind: 'windows'; type: WindowedType; expireAt: number | null; at: number[] };

/** The types whose big keys are journaled in windows (a stream stays a DUMP payload). */
export type WindowedType = 'string' | 'hash' | 'set' | 'zset' | 'list';

/** A key the run touched and its state before the first change the run made to it. */
export interface JournaledKey {
  key: Buffer;
  prior: PriorState;
}

/** One step of the fold as the journal names it: the target key and the type the step writes. */
export interface StepKey {
  key: Buffer;
  type: string;
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
