import { RunError } from '../common/errors.js';

/**
 * Watches one pass over a server cursor (SCAN, SCANX's next key, HSCAN/SSCAN/ZSCAN) so that kvmerge
 * never loops on it (SPEC §7). Pika 3.x keeps a walk's position on the server, in a cache keyed by the
 * cursor number: a walk whose position is gone goes on from another one, and its cursor can cycle
 * and never return 0 (seen in production on 3.5.5: COUNT 100 on 200 names gave 100, 200, 200, …).
 * A pass is broken when
 * - a cursor comes back: found with Brent's cycle detection, in constant memory (a pass over 100M keys
 *   must not keep its cursors), within about twice the cycle's length after the cycle begins;
 * - or, where the caller counts new items, the pass has returned many times the database's size
 *   (DBSIZE, or the new items so far where that is larger) since its last new item.
 * Pure: the caller asks the server and acts on the verdict (a work-around, or BrokenCursorError).
 */
export class CursorGuard {
  private mark: string | undefined;
  private power = 1;
  private steps = 0;
  private fresh = 0;
  private sinceFresh = 0;

  /**
   * `size`: the database's or value's size where known (0 when not); `count`: the COUNT asked per page.
   */
  constructor(
    private readonly size = 0,
    private readonly count = 0,
  ) {}

  /**
   * One page of the pass: the cursor it answered (never the final 0) and, where the caller knows them,
   * how many items it returned and how many were new to the pass. Returns why the pass is broken, or
   * undefined.
   */
  page(cursor: string, returned?: number, fresh?: number): string | undefined {
    if (cursor === this.mark) return `cursor ${cursor} came back within one pass`;
    if (++this.steps === this.power) {
      this.mark = cursor;
      this.power *= 2;
      this.steps = 0;
    }
    if (returned === undefined || fresh === undefined) return undefined;
    this.fresh += fresh;
    this.sinceFresh = fresh > 0 ? returned - fresh : this.sinceFresh + returned;
    const allowed = DUPLICATES_FACTOR * Math.max(this.size, this.fresh) + DUPLICATES_PAGES * this.count;
    if (this.sinceFresh > allowed) {
      return `${this.sinceFresh} keys returned since the last new one (DBSIZE ${this.size})`;
    }
    return undefined;
  }

  /** The pass begins again (after a reconnection, or on another COUNT). */
  restart(): void {
    this.mark = undefined;
    this.power = 1;
    this.steps = 0;
    this.fresh = 0;
    this.sinceFresh = 0;
  }
}

/**
 * A sound pass returns each key about once (Redis: a few more around a rehash): more repeats than this
 * many times the keyspace, with no new key among them, is a walk going round.
 */
const DUPLICATES_FACTOR = 4;
/** Slack for tiny databases, in pages of COUNT. */
const DUPLICATES_PAGES = 10;

/** A server's cursor that cycles and no work-around left: the run stops (exit 1), naming both. */
export class BrokenCursorError extends RunError {
  constructor(server: string, command: string, why: string, tried: string) {
    super(
      `${server}: ${command}'s cursor never returns to 0 (${why}; a known Pika 3.x quirk)` +
        `${tried ? `, and ${tried}` : ''}; restart the server (its cursor cache starts empty) or merge a copy of it`,
    );
  }
}
