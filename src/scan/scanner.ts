import type { Redis } from 'ioredis';
import pLimit from 'p-limit';
import { RunError } from '../common/errors.js';
import { SeenKeys } from '../common/seen-keys.js';
import type { ProbeUnit } from '../probe/probe.js';
import { type Caps, keyspaceSize as countKeys } from '../servers/caps.js';
import type { ClusterView } from '../servers/cluster/layout.js';
import { BrokenCursorError, CursorGuard } from '../servers/cursor-guard.js';

export interface ScanOptions {
  /** SCAN MATCH glob; undefined for every key. */
  match?: string;
  /** SCAN COUNT: work per SCAN call on the server. */
  count: number;
  /** Keys per yielded batch: the unit of probing and writing. */
  batchSize: number;
  /** The server as a user may read it (redacted URL): named where its cursor is broken. */
  server?: string;
  /** Where the line saying that a work-around replaced a broken cursor goes. */
  log?: (line: string) => void;
}

type ScanCaps = Pick<Caps, 'scanx' | 'multiTypeNames' | 'keyspaceNeedsStats'>;

export interface ScanBatch {
  units: ProbeUnit[];
  /** Estimated fraction of the keyspace walked so far (0..1), from the SCAN cursor; 0 when unknown. */
  walked: number;
  /**
   * The batches before this one must be finished before it starts: it holds a later type of names
   * that earlier batches held another type of (SPEC §1.2 fold order within a name, Pika 3.x).
   */
  after?: boolean;
}

/** The types SCANX walks, in the order a name's types are folded (probe.ts TYPE_ORDER). */
const SCANX_TYPES = ['string', 'hash', 'list', 'zset', 'set'] as const;

/** Walks of a cluster source begun again because its slots moved meanwhile, at most. */
const MAX_REWALKS = 5;

/**
 * Yields the keys of one database in batches of `batchSize`, each key once (SCAN may return a key
 * twice; `seen` drops the repeat). A generator, so that the next SCAN is sent only when the consumer
 * asks for the next batch: scanning never runs ahead of writing by more than one SCAN reply.
 * `nodes` holds one connection, or one per master of a cluster: the masters are walked in turn, a
 * page of each, so that every master is read and none runs ahead of the writes.
 * `cluster` (a cluster source): its masters made current and its layout settled before the first
 * walk, and its slot layout asked before and after each walk (undefined while in flux). A reshard
 * during a walk can move keys from a master not yet walked to one already walked, or to a master added
 * meanwhile; a master can die mid-walk (its replica promoted): when the layout changed or was in flux,
 * or a master's walk failed, the masters are asked again once the layout has settled
 * (`cluster.settle`: the new ones connected) and every master is walked again: `seen` lets only the
 * keys missed through.
 * Where the server's SCAN cannot be trusted (Pika), it walks with SCANX instead (scanPika).
 */
export async function* scanBatches(
  nodes: readonly Redis[],
  opts: ScanOptions,
  seen: SeenKeys,
  keyspaceSize: number,
  caps: ScanCaps,
  cluster?: ClusterView,
): AsyncGenerator<ScanBatch> {
  if (caps.scanx) {
    yield* scanPika(nodes[0]!, opts, seen, caps);
    return;
  }
  const batches = new Batches(opts.batchSize);
  // The masters connected when the run began may not be those of now: a source is walked once the
  // sources before it are merged, and a master may have been added and given slots meanwhile, which a
  // layout asked of the others would show as unchanged over the walk. And a reshard under way is waited
  // for rather than walked through: a slot left migrating stops the run before this source writes.
  await cluster?.settle();
  for (let walk = 0; ; walk++) {
    const before = await cluster?.layout();
    const lost: Error[] = [];
    for await (const { fresh, walked } of walkNodes(
      nodes,
      opts,
      keyspaceSize,
      seen,
      caps,
      cluster ? lost : undefined,
    )) {
      for (const key of fresh) batches.add({ key });
      yield* batches.full(walk === 0 ? walked : 1);
    }
    if (!cluster) break;
    const after = await cluster.layout();
    if (lost.length === 0 && before !== undefined && before === after) break;
    // Keys may have been missed: better a failed run than a quiet gap.
    if (walk >= MAX_REWALKS) throw lost[0] ?? new RunError(rewalksSpent(opts.server));
    // A walk while slots are still moving could miss keys again: the next begins once they stand still.
    await cluster.settle();
  }
  yield* batches.rest(1);
}

function rewalksSpent(server = 'a cluster source'): string {
  return (
    `${server}: the cluster's slots moved during each of ${MAX_REWALKS + 1} walks of its keys, so ` +
    'keys could have been missed; run again once the cluster is not being resharded'
  );
}

/** Masters of a cluster asked for their next SCAN page at once (p-limit): the rest wait their turn. */
const PARALLEL_PAGES = 8;

/**
 * The pages of every node's SCAN walk, a page of each node per round, with the share of all nodes
 * walked after each page. A round asks the nodes at once, at most PARALLEL_PAGES of them together, so
 * a cluster's masters are read side by side while memory holds one page per node at most.
 * With `lost` (a cluster), a node whose walk fails is left behind and its error pushed there: the
 * caller walks the masters of after the failover again.
 */
async function* walkNodes(
  nodes: readonly Redis[],
  opts: ScanOptions,
  keyspaceSize: number,
  seen: SeenKeys,
  caps: ScanCaps,
  lost?: Error[],
): AsyncGenerator<Page> {
  const walks = nodes.map((node) => scanPages(node, opts, keyspaceSize / nodes.length, seen, caps));
  const walked = nodes.map(() => 0);
  const share = (): number => walked.reduce((a, b) => a + b, 0) / nodes.length;
  let live = walks.map((_, i) => i);
  const limit = pLimit(PARALLEL_PAGES);
  try {
    while (live.length > 0) {
      const still: number[] = [];
      const round = await Promise.all(
        live.map((i) =>
          limit(() =>
            walks[i]!.next().catch((err: Error) => {
              if (!lost) throw err;
              lost.push(err);
              return { done: true as const, value: undefined };
            }),
          ),
        ),
      );
      for (const [n, i] of live.entries()) {
        const page = round[n]!;
        if (page.done) {
          walked[i] = 1;
          continue;
        }
        still.push(i);
        walked[i] = Math.max(walked[i]!, page.value.walked);
        yield { ...page.value, walked: share() };
      }
      live = still;
    }
  } finally {
    // A consumer that stops early: each walk's own cleanup (its reconnect listener) runs.
    await Promise.all(walks.map((walk) => walk.return(undefined)));
  }
}

/** A page of a walk: its keys new to `seen` (now recorded there), the others, and the share walked. */
interface Page {
  fresh: Buffer[];
  repeated: Buffer[];
  walked: number;
}

/** Records a page's keys in `seen`, telling the new from the repeated: one fingerprint per key. */
function take(seen: SeenKeys, keys: readonly Buffer[], walked: number): Page {
  const isNew = new Uint8Array(keys.length);
  seen.addMany(keys, isNew);
  const fresh: Buffer[] = [];
  const repeated: Buffer[] = [];
  for (let i = 0; i < keys.length; i++) (isNew[i] === 1 ? fresh : repeated).push(keys[i]!);
  return { fresh, repeated, walked };
}

/**
 * The pages of a plain SCAN walk, with the share of the keyspace walked after each; each page's keys
 * are recorded in `seen` as it is read (take).
 *
 * After the connection was lost and re-established, the walk starts again from cursor 0. A cursor is
 * only meaningful to the process that gave it: a restarted server (or the replica promoted by a
 * failover) hashes keys with another seed, and going on from the old cursor silently skips keys (seen
 * in the source-restart test: ~2,600 of 12,000). Walking again from 0 is safe because the scanner
 * drops keys it has already yielded (SeenKeys, SPEC §1.6); it costs one more walk per reconnection.
 * A cursor that cycles (CursorGuard) ends the walk: its keys are listed with KEYS instead (keysInstead).
 */
async function* scanPages(
  redis: Redis,
  opts: ScanOptions,
  keyspaceSize: number,
  seen: SeenKeys,
  caps: ScanCaps,
): AsyncGenerator<Page> {
  let connections = 0;
  const onReady = (): void => {
    connections++;
  };
  redis.on('ready', onReady);
  try {
    const args: (string | number)[] = opts.match
      ? ['MATCH', opts.match, 'COUNT', opts.count]
      : ['COUNT', opts.count];
    let cursor = '0';
    let known = connections;
    const guard = new CursorGuard(keyspaceSize, opts.count);
    for (;;) {
      if (connections !== known) {
        known = connections;
        cursor = '0';
        guard.restart();
      }
      const [next, keys] = (await redis.scanBuffer(cursor, ...(args as ['COUNT', number]))) as [
        Buffer,
        Buffer[],
      ];
      // Reconnected while this SCAN was out: its answer may be the new server's reading of an old
      // cursor. Its keys are kept; the walk never ends on it and starts again from 0.
      if (connections !== known) {
        yield take(seen, keys, 0);
        continue;
      }
      cursor = next.toString();
      const page = take(seen, keys, cursor === '0' ? 1 : cursorFraction(cursor, keyspaceSize));
      const broken = cursor === '0' ? undefined : guard.page(cursor, keys.length, page.fresh.length);
      yield page;
      if (cursor === '0') return;
      if (broken) {
        for await (const keys of keysInstead(redis, opts, caps, 'SCAN', broken)) yield take(seen, keys, 1);
        return;
      }
    }
  } finally {
    redis.removeListener('ready', onReady);
  }
}

/**
 * Pika's SCAN keeps cursors on the server, and Pika 4.0.1 loses keys when a page ends at a one-byte
 * key (26 one-letter keys at COUNT 1 come back as 1): its keys are walked with SCANX instead, type by
 * type, which continues from a key, not a cursor. SCANX does not list streams, so a plain SCAN
 * follows that takes only the names SCANX did not list, and, where one name holds
 * several types (3.x), asks each listed name whether it also holds a stream. Each type's pass waits
 * for the one before it (`after`), so a name's types are folded in TYPE_ORDER.
 */
async function* scanPika(
  redis: Redis,
  opts: ScanOptions,
  seen: SeenKeys,
  caps: ScanCaps,
): AsyncGenerator<ScanBatch> {
  const multiType = caps.multiTypeNames;
  const match = opts.match === undefined ? [] : ['MATCH', opts.match];
  const batches = new Batches(opts.batchSize);
  for (const type of SCANX_TYPES) {
    // Several types a name (3.x): a name comes once per type pass, and once only within it.
    const listed = multiType ? new SeenKeys() : seen;
    const add = (keys: Buffer[]): void => {
      for (const key of keys) {
        if (!listed.add(key)) continue;
        if (multiType) seen.add(key);
        batches.add(multiType ? { key, type } : { key });
      }
    };
    // SCANX's next key is a cursor too, and cycles like SCAN's where the server's walk is broken.
    const guard = new CursorGuard();
    let start: Buffer = Buffer.alloc(0);
    do {
      const [next, keys] = (await redis.callBuffer('SCANX', type, start, ...match, 'COUNT', opts.count)) as [
        Buffer,
        Buffer[],
      ];
      start = next;
      add(keys);
      yield* batches.full(0);
      const broken = start.length > 0 ? guard.page(start.toString('latin1')) : undefined;
      if (broken) {
        for await (const keys of keysInstead(redis, opts, caps, `SCANX ${type}`, broken, type)) {
          add(keys);
          yield* batches.full(0);
        }
        break;
      }
    } while (start.length > 0);
    yield* batches.rest(0);
    batches.barrier();
  }
  const streamAsked = new SeenKeys();
  for await (const { fresh, repeated } of scanPages(redis, opts, await countKeys(redis, caps), seen, caps)) {
    for (const key of fresh) batches.add({ key });
    // SCAN lists a 3.x name once per type: its stream is asked about once.
    if (multiType)
      for (const key of repeated)
        if (streamAsked.add(key)) batches.add({ key, type: 'stream', ifHeld: true });
    yield* batches.full(0);
  }
  yield* batches.rest(1);
}

/** Past this many keys, KEYS would block the server too long to stand in for a broken cursor. */
export const KEYS_LIMIT = 100_000;

/**
 * The keys of a walk whose cursor is broken (CursorGuard), listed with KEYS (Pika's `KEYS pattern TYPE`
 * for one type's pass) and yielded in pieces of batchSize: on a small database that is one short
 * command, and it has no cursor to cycle. On a large one, or where KEYS is refused, no work-around is
 * left and the run stops (BrokenCursorError, exit 1) rather than looping. The keys the broken walk
 * gave before are given again: the caller's SeenKeys drops them (SPEC §1.6).
 */
async function* keysInstead(
  redis: Redis,
  opts: ScanOptions,
  caps: ScanCaps,
  command: string,
  why: string,
  type?: string,
): AsyncGenerator<Buffer[]> {
  const server = opts.server ?? 'the source';
  const size = await countKeys(redis, caps);
  if (size > KEYS_LIMIT) {
    throw new BrokenCursorError(
      server,
      command,
      why,
      `its ${size} keys are too many for KEYS (at most ${KEYS_LIMIT})`,
    );
  }
  let keys: Buffer[];
  try {
    keys = (await redis.callBuffer('KEYS', opts.match ?? '*', ...(type ? [type] : []))) as Buffer[];
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new BrokenCursorError(server, command, why, `KEYS, its work-around, failed: ${reason}`);
  }
  opts.log?.(
    `fallback: ${server}: ${command}'s cursor never returns to 0 (${why}); its ${keys.length} keys listed with KEYS instead`,
  );
  for (let i = 0; i < keys.length; i += opts.batchSize) yield keys.slice(i, i + opts.batchSize);
}

/**
 * Cuts units into batches of a fixed size. After barrier(), the next batch is marked `after`: it
 * waits for every batch before it (a later type of the names already yielded).
 */
class Batches {
  private pending: ProbeUnit[] = [];
  private after = false;

  constructor(private readonly size: number) {}

  add(unit: ProbeUnit): void {
    this.pending.push(unit);
  }

  barrier(): void {
    this.after = true;
  }

  /** Every full batch collected so far. */
  *full(walked: number): Generator<ScanBatch> {
    while (this.pending.length >= this.size) yield this.take(this.pending.splice(0, this.size), walked);
  }

  /** What is left, as a last (smaller) batch. */
  *rest(walked: number): Generator<ScanBatch> {
    if (this.pending.length > 0) yield this.take(this.pending.splice(0), walked);
  }

  private take(units: ProbeUnit[], walked: number): ScanBatch {
    const batch: ScanBatch = this.after ? { units, walked, after: true } : { units, walked };
    this.after = false;
    return batch;
  }
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
