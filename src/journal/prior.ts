import type { NativeType } from '../decide/types.js';
import { typeFromReply } from '../probe/probe.js';
import type { Caps } from '../redis/capabilities.js';
import type { Reply } from '../redis/pipe.js';
import type { Transport } from '../redis/transport.js';
import type { Command } from '../write/commands.js';
import { applyConfirmed } from '../write/confirm.js';
import { CODECS } from '../write/native/index.js';
import { now, relativeTtl, type TargetClock } from '../write/ttl.js';
import type { PriorState } from './types.js';

/** The target's clock, in Unix ms, at our `at` (performance.now() ms). */
export function targetTime(clock: TargetClock, at = now()): number {
  return clock.offset === null ? Date.now() - (now() - at) : Math.floor(at + clock.offset);
}

/** The target can give and take DUMP payloads: priors are journaled as payloads, else as native images. */
export function dumpsPriors(caps: Caps): boolean {
  return caps.dump !== false && caps.restore !== false;
}

/**
 * The present state of each key on the target (SPEC §6.2): a DUMP payload with its absolute expiry,
 * or where the target has no DUMP (Pika) a native image read with the type's codec; absent when the
 * key does not exist. One round trip with DUMP, two without (TYPE first, then the type's reads).
 */
export async function readPriors(
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  keys: readonly Buffer[],
): Promise<PriorState[]> {
  if (keys.length === 0) return [];
  const sentAt = now();
  const at = targetTime(clock, sentAt);
  const expiry = (pttl: Reply | undefined): number | null =>
    typeof pttl === 'number' && pttl >= 0 ? at + pttl : null;
  if (dumpsPriors(caps)) {
    const replies = await target.send(
      keys.flatMap((key): Command[] => [
        ['DUMP', key],
        ['PTTL', key],
      ]),
    );
    return keys.map((_key, i) => {
      const payload = replies[2 * i];
      if (payload instanceof Error)
        throw new Error(`cannot back up the target's key (DUMP: ${payload.message})`);
      if (payload === null || payload === undefined) return { kind: 'absent' };
      if (!Buffer.isBuffer(payload)) throw new Error(`unexpected DUMP reply for a key being backed up`);
      return { kind: 'dump', payload, expireAt: expiry(replies[2 * i + 1]) };
    });
  }
  // Pika 4.0's TYPE may name the type of a deleted key: EXISTS decides (capabilities.ts, staleType).
  const first = await target.send(
    keys.flatMap((key): Command[] => [
      ['TYPE', key],
      ['EXISTS', key],
      ['PTTL', key],
    ]),
  );
  const reads: Command[] = [];
  const plan: { type: NativeType; at: number; count: number; expireAt: number | null }[] = [];
  const out: PriorState[] = keys.map((key, i) => {
    const type = typeFromReply(first[3 * i]);
    const exists = first[3 * i + 1];
    if (type === null || (exists === 0 && type !== 'stream')) return { kind: 'absent' };
    if (type === 'other') throw new Error('cannot back up a key of a module type on a target without DUMP');
    const commands = CODECS[type].read(key, caps);
    // Pika's PTTL on a stream means nothing (capabilities.ts, streamTtl): a stream there has no lifetime.
    const expireAt = type === 'stream' && !caps.streamTtl ? null : expiry(first[3 * i + 2]);
    plan[i] = { type, at: reads.length, count: commands.length, expireAt };
    reads.push(...commands);
    return { kind: 'absent' };
  });
  const replies = await target.send(reads);
  plan.forEach((p, i) => {
    if (!p) return;
    const value = CODECS[p.type].decode(replies.slice(p.at, p.at + p.count), caps);
    if (value !== null) out[i] = { kind: 'native', type: p.type, value, expireAt: p.expireAt };
  });
  return out;
}

/**
 * The commands that put `key` back into its prior state, and whether they must run as one
 * MULTI/EXEC: DEL for a key that was absent (or whose prior lifetime is over by now); RESTORE …
 * REPLACE with the original absolute expiry; or, for a native image, DEL + the type's writes + the
 * expiry in one transaction. Idempotent: running them twice gives the same key.
 */
export function restoreCommands(
  key: Buffer,
  prior: PriorState,
  caps: Caps,
  clock: TargetClock,
): { commands: Command[]; transaction: boolean } {
  const at = now();
  const targetNow = targetTime(clock, at);
  if (prior.kind === 'absent' || (prior.expireAt !== null && prior.expireAt <= targetNow)) {
    return { commands: [['DEL', key]], transaction: false };
  }
  const absolute = clock.offset !== null && caps.absoluteExpiry;
  if (prior.kind === 'dump') {
    if (prior.expireAt === null)
      return { commands: [['RESTORE', key, 0, prior.payload, 'REPLACE']], transaction: false };
    const restore: Command = absolute
      ? ['RESTORE', key, prior.expireAt, prior.payload, 'REPLACE', 'ABSTTL']
      : ['RESTORE', key, relativeTtl(prior.expireAt - targetNow, clock), prior.payload, 'REPLACE'];
    return { commands: [restore], transaction: false };
  }
  const commands: Command[] = [
    ['DEL', key],
    ...CODECS[prior.type as NativeType].write(key, prior.value, caps),
  ];
  if (prior.expireAt !== null) {
    commands.push(
      absolute
        ? ['PEXPIREAT', key, prior.expireAt]
        : ['PEXPIRE', key, relativeTtl(prior.expireAt - targetNow, clock)],
    );
  }
  return { commands, transaction: true };
}

/**
 * Puts keys back into their prior states, in one pipeline (one MULTI/EXEC per native image), and
 * throws the first error reply naming the key's position. Sent with resend: a restore is idempotent.
 */
export async function restoreKeys(
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  keys: readonly { key: Buffer; prior: PriorState }[],
): Promise<void> {
  const commands: Command[] = [];
  for (const { key, prior } of keys) {
    const planned = restoreCommands(key, prior, caps, clock);
    if (planned.transaction) commands.push(['MULTI'], ...planned.commands, ['EXEC']);
    else commands.push(...planned.commands);
  }
  await sendIdempotent(target, commands, 'the target refused a restore');
}

/**
 * Sends idempotent writes (restores, DELs of temporary keys) and throws the first error reply, prefixed
 * with `what`. Behind Sentinel they count only once WAIT confirms them on the master's replicas, and are
 * sent again (to the master of the moment) until it does: a rollback or a resume's clean-up that a
 * failover lost would leave the run's writes on the master that survives.
 */
export async function sendIdempotent(target: Transport, commands: Command[], what: string): Promise<void> {
  if (commands.length === 0) return;
  const refused = (err: Error): Error => new Error(`${what}: ${err.message.split('\n')[0]}`);
  if (target.replicas !== undefined) {
    // applyConfirmed throws an error reply as it came: a server's reply, as redis-parser names it.
    await applyConfirmed(target, commands, { kind: 'again' }).catch((err: unknown) => {
      throw err instanceof Error && err.name === 'ReplyError' ? refused(err) : err;
    });
    return;
  }
  const replies = await target.send(commands);
  const failure = replies.flat(2).find((r): r is Error => r instanceof Error);
  if (failure) throw refused(failure);
}
