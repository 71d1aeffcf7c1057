import type { RespPipe } from '../pipe.js';

/**
 * How many replicas each master's writes must reach before they count (SPEC §6.6), by master address
 * (host:port): the most of what ROLE on the master lists and what the last slot table lists under it.
 */
export class ReplicaCounts {
  /**
   * The replicas connected to each master (ROLE), asked on the first write to it after each slot
   * table refresh. Not CLUSTER SLOTS: Redis 7 leaves out a replica whose offset it has not yet heard
   * of by gossip, which a fresh cluster's replicas are.
   */
  private readonly asked = new Map<string, Promise<number>>();
  /** The most replicas ROLE has listed for each master: what its writes must reach. */
  private readonly seen = new Map<string, number>();
  /**
   * The replicas the last slot table (CLUSTER SLOTS) lists under each master, whatever their link: any of
   * them may be promoted, so a write counts only once each has it.
   */
  private readonly listed = new Map<string, number>();

  /** How many replicas a master's writes must reach; 0 where it cannot be told (ROLE not allowed). */
  of(addr: string, pipe: (addr: string) => Promise<RespPipe>): Promise<number> {
    let count = this.asked.get(addr);
    if (!count) {
      // Never fewer than this master has been seen with, nor than the cluster lists for it: a master
      // whose replica was just promoted, or whose link to it broke, lists none in ROLE, takes writes
      // until it learns of its demotion, and then drops them. The slot table still lists that replica
      // (the cluster leaves out only replicas it has failed).
      count = pipe(addr)
        .then((p) => p.send([['ROLE']]))
        .then(
          ([role]) => (Array.isArray(role) && Array.isArray(role[2]) ? role[2].length : 0),
          () => 0,
        )
        .then((connected) => {
          const most = Math.max(connected, this.seen.get(addr) ?? 0);
          this.seen.set(addr, most);
          return Math.max(most, this.listed.get(addr) ?? 0);
        });
      this.asked.set(addr, count);
    }
    return count;
  }

  /** A new slot table is being read: every master's replicas are asked again (one failed, or was promoted). */
  newTable(): void {
    this.asked.clear();
    this.listed.clear();
  }

  /** The new slot table lists `replicas` replicas under `master`. */
  listedUnder(master: string, replicas: number): void {
    this.listed.set(master, replicas);
  }

  /** A master's connection was dropped: its replicas are asked again on its next write. */
  forget(addr: string): void {
    this.asked.delete(addr);
  }
}
