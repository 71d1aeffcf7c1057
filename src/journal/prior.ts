import type { Caps } from '../servers/caps.js';
import { now, type TargetClock } from '../servers/clock.js';
import { sendIdempotent } from '../servers/confirm.js';
import type { Command, Reply } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import { clearCommands } from '../types/clear.js';
import { CODECS, TYPES } from '../types/index.js';
import type { NativeType } from '../types/strategy.js';
import { typeAsks, typeBesideExists, typeFromReply, typesFrom } from '../types/type-reply.js';
import { surelySmallBelow } from '../write/big-threshold.js';
import { relativeTtl } from '../write/ttl.js';
import { journalWindows, restoreWindows, type WindowSink } from './big-prior.js';
import { clearType } from './clear-type.js';
import { lifetimeOf, targetTime } from './expiry.js';
import type { WindowLoader } from './reader.js';
import type { JournaledKey, PriorState, WindowedType } from './types.js';

/** The target can give and take DUMP payloads: priors are journaled as payloads, else as native images. */
export function dumpsPriors(caps: Caps): boolean {
  return caps.dump !== false && caps.restore !== false;
}

/**
 * Which target keys are big enough to be journaled in windows (journal/big-prior.ts), and where
 * their windows go. The thresholds are the run's own (write.bigKeyElements, write.bigKeyBytes).
 */
export interface BigPriors {
  bigKeyElements: number;
  bigKeyBytes: number;
  sink: WindowSink;
}

/** How a big prior is journaled on this target: its hash fields' expiries too, where it keeps them. */
const windowOptions = (caps: Caps) => ({ fieldTtls: caps.hashFieldTtls });

/** The types whose big keys are journaled in windows (a stream stays one DUMP payload). */
const WINDOWED: ReadonlySet<string> = new Set<WindowedType>(['string', 'hash', 'set', 'zset', 'list']);

const windowed = (type: string | null): type is WindowedType => type !== null && WINDOWED.has(type);

/**
 * The present state of each key on the target (SPEC §6.2): a DUMP payload with its absolute expiry,
 * or where the target has no DUMP (Pika) a native image read with the type's codec; absent when the
 * key does not exist. With `big`, a key over the big-key thresholds is read window by window into the
 * journal instead of as one payload, so memory stays bounded whatever the key's size: a first round
 * trip learns each key's MEMORY USAGE and type (and, where MEMORY USAGE cannot tell, its element
 * count, beside the DUMP), the second reads the payloads. Without `big`, one round trip of DUMPs.
 */
export async function readPriors(
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  keys: readonly Buffer[],
  big?: BigPriors,
  stepTypes?: readonly string[],
): Promise<PriorState[]> {
  if (keys.length === 0) return [];
  if (dumpsPriors(caps)) {
    return big
      ? await readSizedPriors(target, caps, clock, keys, big)
      : await readDumps(target, caps, clock, keys);
  }
  const { command: expiryOf, read: expiry } = expiryAsk(caps, clock);
  const typed = caps.multiTypeNames && stepTypes !== undefined;
  // Pika 4.0's TYPE may name the type of a deleted key: EXISTS decides (servers/caps.ts, staleType).
  // Pika 3.x: the types the name holds (PTYPE, XLEN), of which the step's own is the prior.
  const asks = (key: Buffer): Command[] =>
    typed
      ? typeAsks(caps, key)
      : [
          ['TYPE', key],
          ['EXISTS', key],
        ];
  const per = asks(Buffer.alloc(0)).length + 1;
  const first = await target.send(keys.flatMap((key): Command[] => [...asks(key), expiryOf(key)]));
  const ttlOf = (i: number): Reply | undefined => first[per * i + per - 1];
  // Pika 3.x: every type the name holds (an absent step type keeps the name's expiry, below).
  const held = keys.map((_key, i) => (typed ? typesFrom(caps, first, per * i) : []));
  const types = keys.map((_key, i): ReturnType<typeof typeFromReply> => {
    if (typed) return held[i]!.find((t) => t === stepTypes[i]) ?? null;
    return typeBesideExists(first[per * i], first[per * i + 1]);
  });
  // With `big`, the element counts (no MEMORY USAGE here) tell which keys to read in windows.
  const bigAt = big ? await bigByCount(target, keys, types, big) : new Set<number>();
  const reads: Command[] = [];
  const plan: { type: NativeType; at: number; count: number; expireAt: number | null }[] = [];
  const out: PriorState[] = keys.map((key, i) => {
    const type = types[i]!;
    // The step's type is not there, but the name may hold others, which an expiry the run sets on this
    // type changes too (DEL and PEXPIRE act on every type of a Pika 3.x name): their expiry is kept.
    if (type === null && held[i]!.length > 0) return { kind: 'absent', expireAt: expiry(ttlOf(i)) };
    if (type === null || bigAt.has(i)) return { kind: 'absent' };
    if (type === 'other') throw new Error('cannot back up a key of a module type on a target without DUMP');
    const commands = CODECS[type].read(key, caps);
    // Pika's PTTL on a stream means nothing (servers/caps.ts, streamTtl): a stream there has no lifetime.
    const expireAt = TYPES[type].keepsTtl(caps) ? expiry(ttlOf(i)) : null;
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
  for (const i of bigAt) {
    out[i] = await journalWindows(
      target,
      keys[i]!,
      types[i] as WindowedType,
      expiry(ttlOf(i)),
      big!.sink,
      windowOptions(caps),
    );
  }
  return out;
}

/** The positions of the keys over the big-key thresholds, by their element count (or string length). */
async function bigByCount(
  target: Transport,
  keys: readonly Buffer[],
  types: readonly (string | null)[],
  big: BigPriors,
): Promise<Set<number>> {
  const asked = types.flatMap((type, i) => (windowed(type) ? [i] : []));
  if (asked.length === 0) return new Set();
  const counts = await target.send(
    asked.map((i): Command => CODECS[types[i] as WindowedType].count(keys[i]!)),
  );
  return new Set(
    asked.filter((i, n) => {
      const count = counts[n];
      return typeof count === 'number' && TYPES[types[i] as WindowedType].isBig(count, big);
    }),
  );
}

/**
 * How a key's expiry is asked, and its reply read as an absolute expiry (target clock, ms; null: none).
 * PEXPIRETIME (Redis 7.0+) gives the very millisecond, so that a rollback puts back the expiry as it
 * was; PTTL (older servers, Pika) counts from when it is sent (a few ms early, never late).
 */
function expiryAsk(caps: Caps, clock: TargetClock) {
  if (caps.expireTime) {
    return {
      command: (key: Buffer): Command => ['PEXPIRETIME', key],
      read: (reply: Reply | undefined): number | null =>
        typeof reply === 'number' && reply >= 0 ? reply : null,
    };
  }
  const at = targetTime(clock, now());
  return {
    command: (key: Buffer): Command => ['PTTL', key],
    read: (pttl: Reply | undefined): number | null =>
      typeof pttl === 'number' && pttl >= 0 ? at + pttl : null,
  };
}

/** The DUMP payload and expiry of each key, in one round trip. */
async function readDumps(
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  keys: readonly Buffer[],
): Promise<PriorState[]> {
  const expiry = expiryAsk(caps, clock);
  const replies = await target.send(keys.flatMap((key): Command[] => [['DUMP', key], expiry.command(key)]));
  return keys.map((_key, i) => dumpPrior(replies[2 * i], replies[2 * i + 1], expiry.read));
}

function dumpPrior(
  payload: Reply | undefined,
  pttl: Reply | undefined,
  expiry: (pttl: Reply | undefined) => number | null,
): PriorState {
  if (payload instanceof Error) throw new Error(`cannot back up the target's key (DUMP: ${payload.message})`);
  if (payload === null || payload === undefined) return { kind: 'absent' };
  if (!Buffer.isBuffer(payload)) throw new Error(`unexpected DUMP reply for a key being backed up`);
  return { kind: 'dump', payload, expireAt: expiry(pttl) };
}

/**
 * DUMP payloads for the keys under the big-key thresholds, windows for the others (see readPriors).
 * A key that MEMORY USAGE puts between the two thresholds gets its element count with its DUMP: if
 * it is big after all, that payload (at most bigKeyBytes) is dropped and the key read in windows.
 */
async function readSizedPriors(
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  keys: readonly Buffer[],
  big: BigPriors,
): Promise<PriorState[]> {
  const clearBelow = surelySmallBelow(big);
  const asksMemory = caps.memoryUsage;
  const first = await target.send(
    keys.flatMap((key): Command[] => [
      ...(asksMemory ? [['MEMORY', 'USAGE', key] as Command] : []),
      ['TYPE', key],
    ]),
  );
  const per = asksMemory ? 2 : 1;
  const sizes = keys.map((_key, i) => {
    const memory = asksMemory ? first[per * i] : undefined;
    const type = typeFromReply(first[per * i + per - 1]);
    const bytes = typeof memory === 'number' ? memory : undefined;
    const isBig = windowed(type) && bytes !== undefined && bytes > big.bigKeyBytes;
    const unsure = windowed(type) && !isBig && (bytes === undefined || bytes > clearBelow);
    return { type, isBig, unsure };
  });
  // PTTLs count from when they are sent, never lengthened by the round trip.
  const expiry = expiryAsk(caps, clock);
  const second: Command[] = [];
  keys.forEach((key, i) => {
    const { type, isBig, unsure } = sizes[i]!;
    if (unsure) second.push(CODECS[type as WindowedType].count(key));
    if (!isBig) second.push(['DUMP', key]);
    second.push(expiry.command(key));
  });
  const replies = await target.send(second);
  const out: PriorState[] = [];
  let r = 0;
  for (const [i, key] of keys.entries()) {
    const { type, isBig, unsure } = sizes[i]!;
    const count = unsure ? replies[r++] : undefined;
    const payload = isBig ? undefined : replies[r++];
    const pttl = replies[r++];
    if (isBig || (typeof count === 'number' && TYPES[type as WindowedType].isBig(count, big))) {
      out.push(
        await journalWindows(
          target,
          key,
          type as WindowedType,
          expiry.read(pttl),
          big.sink,
          windowOptions(caps),
        ),
      );
    } else out.push(dumpPrior(payload, pttl, expiry.read));
  }
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
  if (prior.kind === 'windows') throw new Error('a big key is put back window by window (restoreWindows)');
  if (prior.kind === 'dump') {
    if (prior.expireAt === null)
      return { commands: [['RESTORE', key, 0, prior.payload, 'REPLACE']], transaction: false };
    const restore: Command =
      clock.offset !== null && caps.absoluteExpiry
        ? ['RESTORE', key, prior.expireAt, prior.payload, 'REPLACE', 'ABSTTL']
        : ['RESTORE', key, relativeTtl(prior.expireAt - targetNow, clock), prior.payload, 'REPLACE'];
    return { commands: [restore], transaction: false };
  }
  const commands: Command[] = [
    ['DEL', key],
    ...CODECS[prior.type as NativeType].write(key, prior.value, caps),
  ];
  if (prior.expireAt !== null) commands.push(lifetimeOf(key, prior.expireAt, caps, clock, targetNow));
  return { commands, transaction: true };
}

/**
 * Puts one type of a Pika 3.x name back (JournaledKey.type), leaving the name's other types as they
 * are: the type is emptied (types/clear.ts; for a zset, list or stream inside the MULTI that writes, so
 * that the whole is idempotent), then its prior image is written. The expiry is the name's (DEL and
 * PEXPIRE act on every type there), put back as it was before the run, also where the type was absent.
 */
async function restoreType(
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  key: Buffer,
  type: NativeType,
  prior: PriorState,
  windows: WindowLoader,
): Promise<void> {
  if (prior.kind === 'windows') {
    await restoreWindows(target, caps, clock, key, prior, windows, true);
    return;
  }
  if (prior.kind === 'dump') throw new Error('a DUMP payload cannot be put back into one type of a name');
  const targetNow = targetTime(clock);
  const expireAt = prior.expireAt;
  const gone = prior.kind === 'absent' || (expireAt != null && expireAt <= targetNow);
  const clear = clearCommands(key, type);
  if (!clear) await clearType(target, key, type);
  const commands: Command[] = [...(clear ?? [])];
  if (!gone) commands.push(...CODECS[prior.type as NativeType].write(key, prior.value, caps));
  // The name's expiry, unless the type was a live one that is now gone (its expiry went with it).
  if (expireAt !== undefined && !(prior.kind === 'native' && gone)) {
    commands.push(expireAt === null ? ['PERSIST', key] : lifetimeOf(key, expireAt, caps, clock, targetNow));
  }
  if (commands.length > 0)
    await sendIdempotent(target, [['MULTI'], ...commands, ['EXEC']], 'the target refused a restore');
}

/**
 * Puts keys back into their prior states, in one pipeline (one MULTI/EXEC per native image), and
 * throws the first error reply naming the key's position. Sent with resend: a restore is idempotent.
 * A big key journaled in windows is put back on its own afterwards, a window at a time, read from the
 * journal with `windows`.
 */
export async function restoreKeys(
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  keys: readonly JournaledKey[],
  windows: WindowLoader,
): Promise<void> {
  const commands: Command[] = [];
  const bigKeys: { key: Buffer; prior: Extract<PriorState, { kind: 'windows' }> }[] = [];
  const typed: JournaledKey[] = [];
  for (const entry of keys) {
    const { key, prior } = entry;
    if (entry.type !== undefined && caps.multiTypeNames) {
      typed.push(entry);
      continue;
    }
    if (prior.kind === 'windows') {
      bigKeys.push({ key, prior });
      continue;
    }
    const planned = restoreCommands(key, prior, caps, clock);
    if (planned.transaction) commands.push(['MULTI'], ...planned.commands, ['EXEC']);
    else commands.push(...planned.commands);
  }
  await sendIdempotent(target, commands, 'the target refused a restore');
  for (const { key, prior } of bigKeys) await restoreWindows(target, caps, clock, key, prior, windows);
  for (const { key, prior, type } of typed)
    await restoreType(target, caps, clock, key, type as NativeType, prior, windows);
}
