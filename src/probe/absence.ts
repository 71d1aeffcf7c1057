/**
 * A running estimate of whether the target holds the keys being copied. A create on the dump path is a
 * RESTORE without REPLACE, which refuses to overwrite (BUSYKEY): sent without asking the target first,
 * it costs nothing where the key is absent and only a second try where it is there. So into a target
 * that was empty when the run began, while few such RESTOREs are refused, the probe does not ask the
 * target about the keys whose payload the source's script returned (probe.ts `assumeAbsent`); once
 * more than one in eight of them were refused (sources that share much of their data), it asks about
 * every key again, for the rest of the run. Into a target that held keys, it always asks.
 *
 * With the backup journal, such a create is journaled as "absent" before it: true of every key of a
 * target that was empty when the run began, since what it holds now this run wrote (earlier sources,
 * whose own records come first), as long as nothing else writes the target meanwhile (the assumption
 * the writer's resolution makes too).
 *
 * Off in a dry run (nothing is written to tell) and under typeMismatch `fail` (the run must stop
 * before writing anything of the batch that holds a mismatch, which only a probe of the target sees).
 */
export class AbsenceGuess {
  private sent = 0;
  private refused = 0;
  private off: boolean;

  constructor(enabled: boolean) {
    this.off = !enabled;
  }

  /** Whether the next batch may assume absence. */
  get on(): boolean {
    return !this.off;
  }

  /** `sent` RESTOREs went out on the assumption, of which `refused` met an existing key. */
  record(sent: number, refused: number): void {
    this.sent += sent;
    this.refused += refused;
    if (this.refused > MIN_REFUSED && this.refused * 8 > this.sent) this.off = true;
    // Recent RESTOREs weigh most: a source that shares the keys of the one before it shows within a
    // batch or two, however many keys that one created alone.
    if (this.sent > WINDOW) {
      this.sent /= 2;
      this.refused /= 2;
    }
  }
}

/** About how many of the last RESTOREs sent on the assumption the ratio is taken over. */
const WINDOW = 1024;

/** Refusals tolerated before the ratio counts: a few keys held by two sources are the normal case. */
const MIN_REFUSED = 32;
