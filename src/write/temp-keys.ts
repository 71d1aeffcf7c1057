import { keySlot, tagForSlot } from '../servers/cluster/slot.js';
import type { Transport } from '../servers/transport.js';

/** Temporary keys are named `kvmerge-tmp:{tag}:…` so an operator can find them with SCAN MATCH kvmerge-tmp:*. */
export const TEMP_PREFIX = 'kvmerge-tmp:';

/**
 * A temporary key lives this long unless renewed. It is renewed every TEMP_LEASE_RENEW_MS while
 * windows are written, so a key being built never expires, while one left by a killed run (kill -9, a lost machine) removes
 * itself: no leftover survives past this, even if no later run comes to clean up.
 */
export const TEMP_TTL_MS = 10 * 60_000;
/** How often a temporary key being built has its lifetime renewed (one PEXPIRE, not one per window). */
export const TEMP_LEASE_RENEW_MS = 30_000;

/**
 * The temporary keys of one run (SPEC §2.3): chunked values are built under one of them and
 * renamed over the real key in one step. Those still registered when the run ends (error, Ctrl-C)
 * are deleted on the way out.
 */
export class TempKeys {
  private readonly live = new Map<string, Buffer>();
  private counter = 0;
  private readonly runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;

  /**
   * A fresh temporary key in the same hash slot as `key`, so that RENAME and ZUNIONSTORE with it
   * never cross slots on a cluster: its hash tag is the short tag of that slot (servers/cluster/slot.ts), not
   * the key's own bytes, which need not make a well-formed tag (`}` in a key without a tag).
   */
  create(key: Buffer): Buffer {
    const tmp = Buffer.from(`${TEMP_PREFIX}{${tagForSlot(keySlot(key))}}:${this.runId}:${++this.counter}`);
    this.live.set(tmp.toString('latin1'), tmp);
    return tmp;
  }

  /** The key was renamed away or deleted. */
  release(tmp: Buffer): void {
    this.live.delete(tmp.toString('latin1'));
  }

  /** One DEL per key: on a cluster they live in different slots. */
  async removeAll(target: Transport): Promise<void> {
    const left = [...this.live.values()];
    this.live.clear();
    if (left.length === 0) return;
    const replies = await target.send(left.map((tmp) => ['DEL', tmp]));
    const refused = replies.find((r) => r instanceof Error);
    if (refused) throw refused;
  }
}
