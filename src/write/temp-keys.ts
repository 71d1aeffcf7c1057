import type { Redis } from 'ioredis';

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

  /** A fresh temporary key in the same hash slot as `key` (it shares the key's hash tag). */
  create(key: Buffer): Buffer {
    const tmp = Buffer.concat([
      Buffer.from(`${TEMP_PREFIX}{`),
      hashTag(key),
      Buffer.from(`}:${this.runId}:${++this.counter}`),
    ]);
    this.live.set(tmp.toString('latin1'), tmp);
    return tmp;
  }

  /** The key was renamed away or deleted. */
  release(tmp: Buffer): void {
    this.live.delete(tmp.toString('latin1'));
  }

  async removeAll(target: Redis): Promise<void> {
    const left = [...this.live.values()];
    this.live.clear();
    if (left.length > 0) await target.del(...left);
  }
}

/**
 * The part of a key that Redis Cluster hashes: the bytes between the first `{` and the next `}`
 * when not empty, else the whole key. Wrapping it in braces gives a key of the same slot, unless
 * the key has no tag and contains a `}` (the wrapped tag would end early); cluster targets are
 * routed per key, so that rare case only loses slot co-location, not correctness, on standalone.
 */
export function hashTag(key: Buffer): Buffer {
  const open = key.indexOf(0x7b);
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) return key.subarray(open + 1, close);
  }
  return key;
}
