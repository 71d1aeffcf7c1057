import { now, type TargetClock } from '../servers/clock.js';
import {
  afterUnconfirmed,
  createsCheck,
  FAILOVER_PAUSE_MS,
  MAX_FAILOVER_ROUNDS,
  replicated,
  resolveLost,
  UNCONFIRMED,
  UnconfirmedError,
} from '../servers/confirm.js';
import { classifyReply, replyText } from '../servers/errors/classify.js';
import {
  type PayloadHead,
  type PayloadOrigin,
  type RestoreArgs,
  streamPayload,
} from '../servers/payload-stream.js';
import type { Transport } from '../servers/transport.js';
import type { KeyAtWork, NativeType } from '../types/strategy.js';
import { typeFromReply } from '../types/type-reply.js';
import type { BigKeyResult } from './bigkey.js';
import type { WriteDoor } from './door.js';
import { outcome } from './outcome.js';
import { deadlineFrom, remaining, restoresAbsolute, restoreTtl } from './ttl.js';

/** A big key created or overridden whole: `name` on the target, `sourceKey` on the source. */
export interface StreamJob extends Omit<KeyAtWork, 'source'> {
  type: NativeType;
  sourceKey: Buffer;
  action: 'create' | 'override';
  /** What the value takes on the source (MEMORY USAGE): the servers get time for as many bytes. */
  expectedBytes: number;
}

export interface StreamEnv {
  /** The value as one payload, read afresh at each attempt (sources/source.ts `bigPayload`). */
  payload(key: Buffer): PayloadOrigin | undefined;
  /** The target's: it names the key's master, and confirms and checks the write as the writer does. */
  target: Transport;
  /** The largest payload streamed: write.payloadMaxBytes, within the target's proto-max-bulk-len. */
  maxBytes: number;
  clock: TargetClock;
  /** Ctrl-C: a RESTORE not yet whole is dropped, and the key stays as it was. */
  signal?: AbortSignal;
  /** The backup journal (--backup): the key's prior state, durable before a byte reaches the target. */
  door?: WriteDoor;
}

/**
 * The copy goes in windows instead (write/bigkey.ts), for `why`. `native`: the target refused RESTORE
 * itself (the run counts the key as a fallback, and with `wholeRun` every later key too). `journaled`:
 * the journal already holds the key's prior state.
 */
export interface ToWindows {
  windows: string;
  native?: { reason: string; wholeRun: boolean };
  journaled: boolean;
}

/**
 * How many times a value's size in memory (MEMORY USAGE) may exceed its DUMP payload: elements of a few
 * bytes each in a hash table or a skiplist take about that much more than their serialized form.
 */
const SURELY_OVER = 8;

/** Connections that fail before the RESTORE is whole, in a row, before the key goes in windows instead. */
const MAX_BREAKS = 3;

const LOST = 'the connection dropped with this RESTORE sent whole and its outcome could not be told';

/**
 * Copies one big key as MIGRATE does, as one DUMP payload and one RESTORE, streamed from the source to
 * the target (servers/payload-stream.ts) so that kvmerge never holds it, whatever its size. The RESTORE
 * is atomic (SPEC §2.4): REPLACE for an override; without it, a create is refused (BUSYKEY) where a key
 * appeared meanwhile, and is decided again (`changed`).
 *
 * A RESTORE cut short applies nothing, so a connection that fails before it is whole is simply tried
 * again, up to MAX_BREAKS times. One sent whole whose reply never came, or that Sentinel's or a
 * cluster's replicas did not confirm (confirm.ts `replicated`, from ROLE offsets), is settled as the
 * writer settles a lost write (SPEC §1.6): an override is sent again (the same payload gives the same
 * value), a create is checked with EXISTS on the master of the moment. What this path cannot carry goes
 * in windows (ToWindows): a payload over `maxBytes`, a source that refuses DUMP, a slot that moved
 * (MOVED, ASK), a target that refuses the payload, connections that keep failing.
 */
export async function streamBigKey(env: StreamEnv, job: StreamJob): Promise<BigKeyResult | ToWindows> {
  let journaled = false;
  let breaks = 0;
  let send = true;
  const toWindows = (why: string, native?: ToWindows['native']): ToWindows => ({
    windows: why,
    native,
    journaled,
  });
  // A value this much larger in memory than the largest payload cannot fit in one: no DUMP is spent on it.
  if (job.expectedBytes > SURELY_OVER * env.maxBytes)
    return toWindows(
      `it takes ${job.expectedBytes} bytes, surely over the ${env.maxBytes} one RESTORE may carry`,
    );
  const written = (): BigKeyResult => {
    env.door?.applied([{ name: job.name, type: job.type }]);
    return 'written';
  };
  for (let round = 0; round < MAX_FAILOVER_ROUNDS; round++) {
    if (send) {
      const epoch = env.target.reconnects;
      const target = env.target.serverOf?.(job.name);
      const origin = target && env.payload(job.sourceKey);
      if (!target || !origin) return toWindows('no server to stream from or to');
      let declined = 'gone' as Declined;
      const streamed = await streamPayload({
        origin,
        target,
        signal: env.signal,
        plan: async (head) => {
          const restore = restoreFor(env, job, head);
          if (typeof restore === 'string' || 'windows' in restore) {
            declined = restore;
            return undefined;
          }
          if (!journaled) {
            // Read from the target even for a create (a RESTORE without REPLACE, which never overwrites):
            // should the key go in windows after all, their RENAME overwrites, and this prior must hold.
            await env.door?.before([{ name: job.name, type: job.type }]);
            journaled = true;
          }
          return restore;
        },
      });
      switch (streamed.done) {
        case 'declined':
          return typeof declined === 'string' ? declined : toWindows(declined.windows);
        case 'source refused':
          return toWindows(`the source answered ${replyText(streamed.error)}`);
        case 'interrupted':
          return 'interrupted';
        case 'not sent':
          if (++breaks >= MAX_BREAKS) return toWindows(`the stream broke ${breaks} times (${streamed.why})`);
          await new Promise((r) => setTimeout(r, FAILOVER_PAUSE_MS));
          continue;
        case 'replied': {
          const reply = streamed.reply;
          if (reply === 'OK') {
            if (await replicated(env.target, epoch, [job.name])) return written();
            break;
          }
          const kind = classifyReply(reply);
          // A demoted master applied nothing: the master of the moment is found below, and sent to.
          if (kind === 'readonly') break;
          if (['moved', 'ask', 'tryagain', 'clusterdown', 'loading'].includes(kind))
            return toWindows(`the target answered ${replyText(reply)}`);
          const result = outcome(reply, true);
          if (result.status === 'native') return toWindows(result.reason, result);
          if (result.status === 'retry') return 'changed';
          throw reply;
        }
        case 'unknown':
          break;
      }
    }
    // Sent whole, and not known to be on the master that survives: found out on the master of the moment.
    await afterUnconfirmed(env.target);
    if (job.action === 'override') {
      send = true;
      continue;
    }
    const {
      verdicts: [verdict],
      epoch,
    } = await resolveLost(env.target, [createsCheck(job.name, LOST)]);
    if (verdict!.applied === 'applied') {
      if (await replicated(env.target, epoch, [job.name])) return written();
      send = false;
    } else if (verdict!.applied === 'not applied') send = true;
    else throw new UnconfirmedError(verdict!.why ?? UNCONFIRMED);
  }
  throw new UnconfirmedError(UNCONFIRMED);
}

/** Why no RESTORE is sent: a result (gone, of another type now, expired), or why windows take the value. */
type Declined = BigKeyResult | { windows: string };

/** The RESTORE for the value the source's head describes, or why none is sent. */
function restoreFor(env: StreamEnv, job: StreamJob, head: PayloadHead): RestoreArgs | Declined {
  const type = head.type === undefined ? undefined : typeFromReply(head.type);
  const deadline = deadlineFrom(head.pttl, head.sentAt);
  if (type === null || deadline === 'gone' || head.length < 0) return 'gone';
  // A payload type byte this version does not know cannot be checked: as for the small keys' DUMP reads.
  if (type !== undefined && type !== job.type) return 'changed';
  if (head.length > env.maxBytes)
    return {
      windows: `its payload of ${head.length} bytes is over the ${env.maxBytes} one RESTORE may carry`,
    };
  const at = now();
  const left = remaining(deadline, at);
  if (left !== null && left <= 0) return 'expired';
  const ttl = restoreTtl(deadline, env.clock, at);
  const flags: string[] = [];
  if (restoresAbsolute(deadline, env.clock)) flags.push('ABSTTL');
  if (job.action === 'override') flags.push('REPLACE');
  return { key: job.name, ttl, flags };
}
