import type { Redis } from 'ioredis';
import type { SeenKeys } from './seen-keys.js';

export interface ScanOptions {
  /** SCAN MATCH glob; undefined for every key. */
  match?: string;
  /** SCAN COUNT: work per SCAN call on the server. */
  count: number;
  /** Keys per yielded batch: the unit of probing and writing. */
  batchSize: number;
}

export interface ScanBatch {
  keys: Buffer[];
  /** Estimated fraction of the keyspace walked so far (0..1), from the SCAN cursor. */
  walked: number;
}

/**
 * Yields the keys of one database in batches of `batchSize`, each key once (SCAN may return a key
 * twice; `seen` drops the repeat). A generator, so that the next SCAN is sent only when the consumer
 * asks for the next batch: scanning never runs ahead of writing by more than one SCAN reply.
 */
export async function* scanBatches(
  redis: Redis,
  opts: ScanOptions,
  seen: SeenKeys,
  keyspaceSize: number,
): AsyncGenerator<ScanBatch> {
  let cursor = '0';
  let pending: Buffer[] = [];
  const args: (string | number)[] = opts.match
    ? ['MATCH', opts.match, 'COUNT', opts.count]
    : ['COUNT', opts.count];
  do {
    const [next, keys] = (await redis.scanBuffer(cursor, ...(args as ['COUNT', number]))) as [
      Buffer,
      Buffer[],
    ];
    cursor = next.toString();
    for (const key of keys) if (seen.add(key)) pending.push(key);
    const walked = cursor === '0' ? 1 : cursorFraction(cursor, keyspaceSize);
    while (pending.length >= opts.batchSize) {
      yield { keys: pending.slice(0, opts.batchSize), walked };
      pending = pending.slice(opts.batchSize);
    }
  } while (cursor !== '0');
  if (pending.length > 0) yield { keys: pending, walked: 1 };
}

/**
 * Redis walks its hash table in reverse-binary order of bucket index: reversing the low bits of
 * the cursor (as many as the table has) gives the share of buckets already visited.
 */
export function cursorFraction(cursor: string, keyspaceSize: number): number {
  const bits = Math.max(2, Math.ceil(Math.log2(Math.max(keyspaceSize, 4))));
  let value = BigInt(cursor) & ((1n << BigInt(bits)) - 1n);
  let reversed = 0n;
  for (let i = 0; i < bits; i++) {
    reversed = (reversed << 1n) | (value & 1n);
    value >>= 1n;
  }
  return Number(reversed) / 2 ** bits;
}
