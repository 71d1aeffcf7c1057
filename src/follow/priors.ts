import { SeenKeys } from '../common/seen-keys.js';
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
 * Memory: a key whose prior was "absent" (most keys of a consolidation) is a 64-bit fingerprint in one
 * typed array (SeenKeys, the same trade the run makes for SPEC §1.6: two keys share one with a
 * probability of about n²/2⁶⁵); a key with a prior value keeps that value (a big prior stays in the
 * journal, read in windows). The list of every key written, which a reconciliation pass walks, is
 * read from the journal on disk.
 */
export class FollowPriors {
  /** Keys journaled with an absent prior. */
  private readonly absent = new SeenKeys();
  /** Keys journaled with a prior value, as the journal has it or as the target held it when journaled. */
  private readonly held = new Map<string, JournaledKey | { observed: Observed | null } | 'in journal'>();

  private constructor(private readonly path: string) {}

  /** Every key the journal at `path` holds, with its first prior. */
  static async load(path: string): Promise<FollowPriors> {
    const priors = new FollowPriors(path);
    const journal = await openJournal(path);
    for await (const entry of journal.firstPriors()) {
      const id = entry.key.toString('latin1');
      if (entry.prior.kind === 'absent' && entry.type === undefined) priors.absent.add(entry.key);
      else priors.held.set(id, entry);
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
      const journal = await openJournal(this.path);
      for await (const first of journal.firstPriors()) {
        if (!first.key.equals(key)) continue;
        this.held.set(id, first);
        return priorObserved(first.prior, windows);
      }
      return 'its prior state is not in the journal';
    }
    return 'observed' in entry ? entry.observed : priorObserved(entry.prior, windows);
  }

  /** Every key written to, once each, in the order first written: read from the journal on disk. */
  async *keys(): AsyncGenerator<Buffer> {
    for await (const entry of (await openJournal(this.path)).firstPriors()) yield entry.key;
  }
}
