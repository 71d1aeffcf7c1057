import { classifyReply, isServerReply } from './errors/classify.js';
import { RepliesLostError } from './pipe.js';
import type { Command, Reply } from './resp.js';
import { replicasCaughtUp } from './role.js';
import type { Transport } from './transport.js';

/** Rounds of resolution behind Sentinel, each after a pause: together longer than a failover. */
export const MAX_FAILOVER_ROUNDS = 20;
/** WAIT's timeout where the transport names none (it always does behind Sentinel): never 0, which blocks. */
export const DEFAULT_WAIT_MS = 2_000;
export const FAILOVER_PAUSE_MS = 500;

export const UNCONFIRMED =
  'this write could not be confirmed on a replica of its master (WAIT), nor told lost';

/**
 * Whether a write to this target counts only once it is known to be on the master that survives a
 * failover: behind Sentinel, and on a cluster (whose masters may have replicas; the transport ends each
 * write with WAIT there). Elsewhere there is one server, and its reply settles the write.
 */
export const confirming = (target: Transport): boolean =>
  target.failover !== undefined || target.replicatedKeys !== undefined;

/**
 * Whether the state a check (EXISTS, LLEN) found is on the replicas, for writes found applied after an
 * unconfirmed WAIT: a check is not a write, so a WAIT on it would confirm nothing. Behind Sentinel: ROLE
 * gives the master's replication offset and what each replica acknowledged (about once a second); on a
 * cluster the transport asks the masters of `keys` the same. `epoch`: the transport's reconnection
 * count when the check's reply came; a ROLE from another connection (maybe another master) says
 * nothing about that check.
 */
export async function replicated(
  target: Transport,
  epoch: number | undefined,
  keys: readonly Buffer[],
): Promise<boolean> {
  if (target.replicatedKeys) return target.replicatedKeys(keys, epoch);
  const failover = target.failover;
  // Neither behind Sentinel nor a cluster: there is one server, and what the check saw holds.
  if (failover === undefined) return true;
  const wanted = failover.replicas;
  if (wanted === 0) return target.reconnects === epoch;
  const deadline = Date.now() + failover.waitTimeoutMs;
  for (;;) {
    const [role] = await target.send([['ROLE']]);
    const acked = replicasCaughtUp(role);
    if (target.reconnects !== epoch || acked === undefined) return false;
    if (acked >= wanted) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** After an unconfirmed write: go to the master the sentinels name now, and give a failover time. */
export async function afterUnconfirmed(target: Transport): Promise<void> {
  await target.failover?.followMaster();
  await new Promise((r) => setTimeout(r, FAILOVER_PAUSE_MS));
}

/**
 * Sends one step of one key (its commands, in MULTI/EXEC when they must apply together) followed by
 * WAIT behind Sentinel, and tells whether it is known to be on the master that survives a failover:
 * true once WAIT confirms it on the master's replicas (or the master has none); false when its fate is
 * unknown (the connection dropped, WAIT timed out, or the server answered READONLY: it was demoted).
 * Another error reply is thrown: the step cannot be applied at all.
 */
export async function sendAndWait(target: Transport, commands: readonly Command[]): Promise<boolean> {
  await target.failover?.refreshReplicas();
  const replicas = target.failover?.replicas ?? 0;
  const all: Command[] = [...commands];
  if (replicas > 0) all.push(['WAIT', replicas, target.failover?.waitTimeoutMs ?? DEFAULT_WAIT_MS]);
  let replies: Reply[];
  try {
    replies = await target.send(all, { resend: false });
  } catch (err) {
    if (err instanceof RepliesLostError) return false;
    throw err;
  }
  const errors = replies
    .slice(0, commands.length)
    .flat(2)
    .filter((r): r is Error => r instanceof Error);
  if (errors.some((e) => classifyReply(e) === 'readonly')) {
    await target.failover?.followMaster();
    return false;
  }
  if (errors.length > 0) throw errors[0];
  const exec = replies[commands.length - 1];
  if (commands.at(-1)?.[0] === 'EXEC' && !Array.isArray(exec)) throw new Error('transaction aborted');
  if (replicas === 0) return true;
  const acked = replies.at(-1);
  return typeof acked === 'number' && acked >= replicas;
}

/** Whether a write whose outcome a drop or an unconfirmed WAIT hid was applied. */
export type Applied = 'applied' | 'not applied' | 'unknown';

/**
 * How one write whose outcome was hidden is told applied or not, on the master of the moment: the
 * reads to send and the verdict from their replies. `null` in place of a check: sending the write
 * again gives the same value (HSET, SADD, an override, PEXPIRE), so it is simply sent again.
 */
export interface LostCheck {
  /** The key the write changes: found applied, it is confirmed on the replicas by this key. */
  key: Buffer;
  reads: Command[];
  judge(replies: readonly Reply[]): Applied;
  /** The failure message where the verdict is 'unknown'. */
  unknown(replies: readonly Reply[]): string;
}

/**
 * The one lost-write resolver (SPEC §1.6): sends every check's reads in one round trip and gives each
 * write its verdict, with the transport's reconnection count when the replies came (`epoch`, for
 * `replicated`). Reads only: the pipe sends them again by itself after another drop. Used by the
 * writer for a batch's units and by applyConfirmed for one step of a big key or a put-back.
 */
export async function resolveLost(
  target: Transport,
  checks: readonly (LostCheck | null)[],
): Promise<{ verdicts: { applied: Applied; why?: string }[]; epoch: number | undefined }> {
  const reads: Command[] = [];
  const at: number[] = [];
  for (const check of checks) {
    at.push(reads.length);
    if (check) reads.push(...check.reads);
  }
  const replies = reads.length > 0 ? await target.send(reads) : [];
  // No reconnection can complete between the reply and here (it needs I/O): the checks' connection.
  const epoch = target.reconnects;
  const verdicts = checks.map((check, n) => {
    if (!check) return { applied: 'not applied' as const };
    const mine = replies.slice(at[n]!, at[n]! + check.reads.length);
    const applied = check.judge(mine);
    return applied === 'unknown' ? { applied, why: check.unknown(mine) } : { applied };
  });
  return { verdicts, epoch };
}

/** A create that cannot overwrite (RESTORE without REPLACE) or a key a write creates: present means applied. */
export const createsCheck = (key: Buffer, unknown: string): LostCheck => ({
  key,
  reads: [['EXISTS', key]],
  judge: ([r]) => (r === 1 ? 'applied' : r === 0 ? 'not applied' : 'unknown'),
  unknown: () => unknown,
});

/** How to tell, on the master of the moment, whether a step whose confirmation is missing was applied. */
export type Check =
  /** Applying it again gives the same value (HSET, SADD, ZADD with source scores, PEXPIRE): sent again. */
  | { kind: 'again' }
  /** A list push: LLEN is `before` if it was not applied, `before + pushed` if it was. */
  | { kind: 'length'; key: Buffer; before: number; pushed: number }
  /** The step removes this key (the RENAME of a temporary key, a zset sum's aside): present means not applied. */
  | { kind: 'removes'; key: Buffer };

/** A step's Check as the resolver takes it. */
function lostCheckOf(check: Check): LostCheck | null {
  if (check.kind === 'again') return null;
  if (check.kind === 'length') {
    const { key, before, pushed } = check;
    return {
      key,
      reads: [['LLEN', key]],
      judge: ([r]) => (r === before + pushed ? 'applied' : r === before ? 'not applied' : 'unknown'),
      unknown: ([r]) =>
        `after a failover the list holds ${String(r)} elements where ${before} or ${before + pushed} were expected: whether this window was appended cannot be told`,
    };
  }
  return {
    key: check.key,
    reads: [['EXISTS', check.key]],
    judge: ([r]) => (r === 0 ? 'applied' : r === 1 ? 'not applied' : 'unknown'),
    unknown: ([r]) => `${UNCONFIRMED} (EXISTS answered ${String(r)})`,
  };
}

/** A step that could not be confirmed nor told lost after the failover rounds: the key fails with this. */
export class UnconfirmedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnconfirmedError';
  }
}

/**
 * Applies one step behind Sentinel so that it counts once, on the master that survives (SPEC §1.6):
 * sent with WAIT; when not confirmed, resolved on the master the sentinels name then by resolveLost, as
 * the writer resolves its units: sent again when that cannot apply it twice (`check`), or found applied
 * and then confirmed once the replicas have caught up. Where it cannot be told, UnconfirmedError.
 * Error replies are thrown. Meant for a transport behind Sentinel (`target.failover` set) or a cluster.
 */
export async function applyConfirmed(
  target: Transport,
  commands: readonly Command[],
  check: Check,
): Promise<void> {
  const lost = lostCheckOf(check);
  let send = true;
  for (let round = 0; round < MAX_FAILOVER_ROUNDS; round++) {
    if (send && (await sendAndWait(target, commands))) return;
    await afterUnconfirmed(target);
    const {
      verdicts: [verdict],
      epoch,
    } = await resolveLost(target, [lost]);
    if (verdict!.applied === 'applied') {
      if (await replicated(target, epoch, [lost!.key])) return;
      send = false;
    } else if (verdict!.applied === 'not applied') send = true;
    else throw new UnconfirmedError(verdict!.why ?? UNCONFIRMED);
  }
  throw new UnconfirmedError(UNCONFIRMED);
}

/**
 * Sends idempotent writes (restores, DELs of temporary keys) and throws the first error reply, prefixed
 * with `what`. Behind Sentinel and on a cluster they count only once WAIT confirms them on the master's replicas, and are
 * sent again (to the master of the moment) until it does: a rollback or a resume's clean-up that a
 * failover lost would leave the run's writes on the master that survives.
 */
export async function sendIdempotent(target: Transport, commands: Command[], what: string): Promise<void> {
  if (commands.length === 0) return;
  const refused = (err: Error): Error => new Error(`${what}: ${err.message.split('\n')[0]}`);
  if (confirming(target)) {
    // applyConfirmed throws an error reply as it came: a server's reply, as redis-parser names it.
    await applyConfirmed(target, commands, { kind: 'again' }).catch((err: unknown) => {
      throw isServerReply(err) ? refused(err) : err;
    });
    return;
  }
  const replies = await target.send(commands);
  const failure = replies.flat(2).find((r): r is Error => r instanceof Error);
  if (failure) throw refused(failure);
}
