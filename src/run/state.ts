import { RunError } from '../common/errors.js';
import type { SeenKeys } from '../common/seen-keys.js';
import type { OnError } from '../config/plan.js';
import type { AbsenceGuess } from '../probe/absence.js';
import type { FailedKeysFile } from '../report/failed-keys.js';
import { describeKey } from '../report/key-name.js';
import type { Tally } from '../report/tally.js';

/** How one source's values are read, as the run learns it: a refusal of DUMP turns its dump path off. */
export interface SourceReads {
  /** The source gives DUMP payloads; turned off by a refusal. */
  dumps: boolean;
  /** Why this source is read natively though the mode wants DUMP. */
  nativeReason?: string;
  /**
   * The keys this source's walk took (a server's SCAN), kept for the later sources: they ask it about
   * a key only where this set has it (probe.ts askHolder). A dry run asks about every key otherwise; a
   * real run about every key the target holds (to count the keys several sources hold).
   */
  walked?: SeenKeys;
}

/**
 * The run keeps the keys of each finished source's walk so that later sources ask it only about the
 * keys it held (probe.ts askHolder); a table larger than this (a source of over some 1,500,000 keys)
 * is let go at once, and its keys are asked about as before: memory stays bounded however large the
 * sources.
 */
const MAX_KEPT_WALK_BYTES = 16 * 1024 * 1024;

export function keptWalk(reads: SourceReads): SeenKeys | undefined {
  if (reads.walked && reads.walked.bytes > MAX_KEPT_WALK_BYTES) reads.walked = undefined;
  return reads.walked;
}

/** The source a failed key came from, as messages and --failed-keys name it. */
export interface FailedFrom {
  index: number;
  name: string;
}

export interface RunStateInit {
  /** The user's stop (Ctrl-C): scanning ends, batches in flight settle, the report says `interrupted`. */
  userSignal?: AbortSignal;
  tally: Tally;
  failedKeys?: FailedKeysFile;
  onError: OnError;
  targetRestores: boolean;
  nativeReason?: string;
  sources: SourceReads[];
  absence: AbsenceGuess;
}

/**
 * Everything that changes during a run (DESIGN.md seam 6); the plan and the connections do not. One
 * AbortController holds the run's own stop, combined with the user's signal by `AbortSignal.any`:
 * `signal` ends the scans, and `halted` is checked before each write group, so where a run stops does
 * not depend on the concurrency.
 */
export class RunState {
  /** Aborted once the run must end: the user stopped it, or a failure stopped it. */
  readonly signal: AbortSignal;
  /** The target takes RESTORE payloads; turned off for the rest of the run by a fallback (SPEC §2.1). */
  targetRestores: boolean;
  /** Why keys that want the dump path are written natively (reported as a fallback per key). */
  nativeReason?: string;
  /** Per source, in declared order. */
  readonly sources: SourceReads[];
  /** Whether the probe may leave the target unasked about small keys it dumped (probe/absence.ts). */
  readonly absence: AbsenceGuess;

  private readonly stopper = new AbortController();
  private readonly userSignal?: AbortSignal;
  private readonly tally: Tally;
  private readonly failedKeys?: FailedKeysFile;
  private readonly onError: OnError;
  private cause?: RunError;
  private stopSeq?: number;

  constructor(init: RunStateInit) {
    this.userSignal = init.userSignal;
    this.signal = init.userSignal
      ? AbortSignal.any([init.userSignal, this.stopper.signal])
      : this.stopper.signal;
    this.tally = init.tally;
    this.failedKeys = init.failedKeys;
    this.onError = init.onError;
    this.targetRestores = init.targetRestores;
    this.nativeReason = init.nativeReason;
    this.sources = init.sources;
    this.absence = init.absence;
  }

  /** Why the run stopped (SPEC §4 exit 1), once it has. */
  get stopped(): RunError | undefined {
    return this.cause;
  }

  /** The user stopped the run (not a failure). */
  get interrupted(): boolean {
    return this.userSignal?.aborted === true;
  }

  /** The user's signal alone: a big key's windowed copy is abandoned on it, not on a failure elsewhere. */
  get userStop(): AbortSignal | undefined {
    return this.userSignal;
  }

  /**
   * Stops the run; the first cause wins. `at`: the scan-order number of the batch where a typeMismatch
   * `fail` stopped it: batches before it still finish their writes, it and later ones write nothing
   * (SPEC §1.2: the run stops at that key).
   */
  stop(cause: RunError, at?: number): void {
    if (this.cause) return;
    this.cause = cause;
    this.stopSeq = at;
    this.stopper.abort(cause);
  }

  /** Checked before each write group: whether the batch numbered `seq` (none: any batch) may write no more. */
  halted(seq?: number): boolean {
    return (
      this.cause !== undefined && (this.stopSeq === undefined || seq === undefined || seq >= this.stopSeq)
    );
  }

  /**
   * A key that cannot be written (SPEC §6.4): counted, listed in --failed-keys; under `--on-error stop`
   * (and for a typeMismatch `fail`, `stops`) it also stops the run at that key (`at`: see stop).
   */
  keyFailed(
    from: FailedFrom,
    key: Buffer,
    type: string,
    reason: string,
    { stops = false, at }: { stops?: boolean; at?: number } = {},
  ): void {
    this.failedKeys?.add({ key, source: from.name, type, reason });
    this.tally.keyFailed(key, from.index, type, reason);
    if (!stops && this.onError !== 'stop') return;
    this.stop(
      new RunError(
        stops
          ? reason
          : `writing ${describeKey(key)} from ${from.name} failed: ${reason} ` +
              '(--on-error skip goes on past such keys and lists them in --failed-keys)',
      ),
      stops ? at : undefined,
    );
  }
}
