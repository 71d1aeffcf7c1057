import { SeenKeys } from '../common/seen-keys.js';
import type { WindowLoader } from '../journal/reader.js';
import { openJournal, openRecords, readFrames } from '../journal/reader.js';
import type { Observed } from '../verify/expect.js';
import { priorObserved } from '../verify/read.js';

/**
 * Each target key's prior (SPEC §9.1: the fold of a changed key starts from its state before the first
 * run), for the keys a follow folds again. A key the journal holds: its first journaled prior. A key
 * nothing was written to yet: the target's value now, which is still its prior (the follow journals
 * it before its first write, and keeps it here from then on).
 *
 * Memory: a key whose prior was "absent" (most keys of a consolidation) is a 64-bit fingerprint in one
 * typed array (SeenKeys, the same trade the run makes for SPEC §1.6: two keys share one with a
 * probability of about n²/2⁶⁵); a key with a prior value keeps where its record is in the journal,
 * read back when the key changes (a big prior's windows too). The list of every key written, which a
 * reconciliation pass walks, is read from the journal on disk.
 */
export class FollowPriors {
  /** Keys journaled with an absent prior. */
  private readonly absent = new SeenKeys();
  /**
   * Keys journaled with a prior value: the byte offset of that prior's record in the journal (read back
   * when the key changes), or, for a key first journaled by the follow, the value the target held then.
   */
  private readonly held = new Map<string, number | { observed: Observed | null } | 'in journal'>();

  private constructor(
    private readonly path: string,
    private readonly records: Awaited<ReturnType<typeof openRecords>>,
  ) {}

  /** Every key the journal at `path` holds, with where its first prior is. Close it when done. */
  static async load(path: string): Promise<FollowPriors> {
    const priors = new FollowPriors(path, await openRecords(path));
    for await (const { record, at } of readFrames(path)) {
      if (record.kind !== 'before' || priors.has(record.key)) continue;
      if (record.prior.kind === 'absent') priors.absent.add(record.key);
      else priors.held.set(record.key.toString('latin1'), at);
    }
    return priors;
  }

  /** Whether the journal holds the key's prior (a write to it needs no journaling first). */
  has(key: Buffer): boolean {
    return this.absent.has(key) || this.held.has(key.toString('latin1'));
  }

  /**
   * A key just journaled whose prior is not kept here (a big one: the journal holds it in windows);
   * it is read from the journal when it is next needed.
   */
  journaled(key: Buffer): void {
    this.held.set(key.toString('latin1'), 'in journal');
  }

  /** The prior of a key just journaled: what the target held then (`found`). */
  remember(key: Buffer, found: Observed | null): void {
    if (found === null) this.absent.add(key);
    else this.held.set(key.toString('latin1'), { observed: found });
  }

  /** The key's prior as a value, or why it cannot be used; `found` where nothing was written to it yet. */
  async priorOf(
    key: Buffer,
    found: Observed | null,
    windows?: WindowLoader,
  ): Promise<Observed | null | string> {
    if (this.absent.has(key)) return null;
    const id = key.toString('latin1');
    const entry = this.held.get(id);
    if (entry === undefined) return found;
    if (entry === 'in journal') {
      // Its first record, found once by a walk of the journal (a big key the follow journaled itself).
      for await (const { record, at } of readFrames(this.path)) {
        if (record.kind !== 'before' || !record.key.equals(key)) continue;
        this.held.set(id, at);
        return priorObserved(record.prior, windows);
      }
      return 'its prior state is not in the journal';
    }
    if (typeof entry === 'number') {
      const record = await this.records.readAt(entry, 'before', 'the prior state of a key');
      return priorObserved(record.prior, windows);
    }
    return entry.observed;
  }

  async close(): Promise<void> {
    await this.records.close();
  }

  /** Every key written to, once each, in the order first written: read from the journal on disk. */
  async *keys(): AsyncGenerator<Buffer> {
    for await (const entry of (await openJournal(this.path)).firstPriors()) yield entry.key;
  }
}
