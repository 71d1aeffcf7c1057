import type { WindowLoader } from '../journal/reader.js';
import { openJournal } from '../journal/reader.js';
import type { JournaledKey } from '../journal/types.js';
import type { Observed } from '../verify/expect.js';
import { priorObserved } from '../verify/read.js';

/**
 * Each target key's prior (SPEC §9.1: the fold of a changed key starts from its state before the first
 * run), for the keys a follow folds again. A key the journal holds: its first journaled prior. A key
 * nothing was written to yet: the target's value now, which is still its prior (the follow journals
 * it before its first write, and keeps it here from then on).
 *
 * Held in memory for every key the run wrote: a key's name and its prior (nothing for a key that was
 * absent, the usual case of a consolidation; a big prior stays in the journal, read in windows).
 */
export class FollowPriors {
  private readonly known = new Map<
    string,
    JournaledKey | { key: Buffer; observed: Observed | null } | { key: Buffer; inJournal: true }
  >();

  private constructor(private readonly path: string) {}

  /** Every key the journal at `path` holds, with its first prior. */
  static async load(path: string): Promise<FollowPriors> {
    const priors = new FollowPriors(path);
    const journal = await openJournal(path);
    for await (const entry of journal.firstPriors()) priors.known.set(entry.key.toString('latin1'), entry);
    return priors;
  }

  /** Whether the journal holds the key's prior (a write to it needs no journaling first). */
  has(key: Buffer): boolean {
    return this.known.has(key.toString('latin1'));
  }

  /**
   * A key just journaled whose prior is not kept here (a big one: the journal holds it in windows);
   * it is read from the journal when it is next needed.
   */
  journaled(key: Buffer): void {
    this.known.set(key.toString('latin1'), { key, inJournal: true });
  }

  /** The prior of a key just journaled: what the target held then (`found`). */
  remember(key: Buffer, found: Observed | null): void {
    this.known.set(key.toString('latin1'), { key, observed: found });
  }

  /** The key's prior as a value, or why it cannot be used; `found` where nothing was written to it yet. */
  async priorOf(
    key: Buffer,
    found: Observed | null,
    windows?: WindowLoader,
  ): Promise<Observed | null | string> {
    const entry = this.known.get(key.toString('latin1'));
    if (!entry) return found;
    if ('observed' in entry) return entry.observed;
    if ('inJournal' in entry) {
      const journal = await openJournal(this.path);
      for await (const first of journal.firstPriors()) {
        if (!first.key.equals(key)) continue;
        this.known.set(key.toString('latin1'), first);
        return priorObserved(first.prior, windows);
      }
      return 'its prior state is not in the journal';
    }
    return priorObserved(entry.prior, windows);
  }

  /** Every key written to, in the order first written (a reconciliation pass folds them all again). */
  *keys(): IterableIterator<Buffer> {
    for (const entry of this.known.values()) yield entry.key;
  }

  get size(): number {
    return this.known.size;
  }
}
