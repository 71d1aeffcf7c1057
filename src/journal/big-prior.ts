import { createHash } from 'node:crypto';
import type { Caps } from '../servers/caps.js';
import { now, type TargetClock } from '../servers/clock.js';
import { keySlot, tagForSlot } from '../servers/cluster/slot.js';
import {
  afterUnconfirmed,
  applyConfirmed,
  MAX_FAILOVER_ROUNDS,
  sendAndWait,
  sendIdempotent,
  UNCONFIRMED,
  UnconfirmedError,
} from '../servers/confirm.js';
import { isServerReply, replyText } from '../servers/errors/classify.js';
import type { Command, Reply } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import { windowedOf } from '../types/verify.js';
import { WINDOWS } from '../types/windows.js';
import { TEMP_LEASE_RENEW_MS, TEMP_PREFIX, TEMP_TTL_MS } from '../write/temp-keys.js';
import { valueWindows } from '../write/windows.js';
import { clearType } from './clear-type.js';
import { lifetimeOf, targetTime } from './expiry.js';
import type { PriorWindow, WindowLoader } from './reader.js';
import type { PriorState, WindowedType } from './types.js';

/** Bytes a window of a big key's prior state aims at: bounds a journal record and what is held in memory. */
export const PRIOR_WINDOW_BYTES = 256 * 1024;

/** Appends one window record durably and resolves to its offset in the journal. */
export type WindowSink = (key: Buffer, window: PriorWindow) => Promise<number>;

/**
 * Reads a big target key's present state window by window (HSCAN/SSCAN/ZSCAN, LRANGE, GETRANGE) and
 * hands each window to `sink` as it comes: kvmerge holds one window at a time, whatever the key's
 * size. A member that a SCAN returns twice is journaled twice, which the put-back absorbs (HSET, SADD,
 * ZADD of the same pair). Absent when the key is gone by the first read.
 */
export async function journalWindows(
  target: Transport,
  key: Buffer,
  type: WindowedType,
  expireAt: number | null,
  sink: WindowSink,
  { fieldTtls = false, windowBytes = PRIOR_WINDOW_BYTES }: { fieldTtls?: boolean; windowBytes?: number } = {},
): Promise<PriorState> {
  const at: number[] = [];
  const ask = async (command: Command): Promise<Reply> => {
    const [reply = null] = await target.send([command]);
    if (reply instanceof Error) throw new Error(`cannot back up the target's big key (${reply.message})`);
    return reply;
  };
  for await (const items of valueWindows(ask, key, type, { windowBytes })) {
    // A hash's fields may each have an expiry (Redis 7.4+): HPEXPIRETIME of the window's fields.
    const fieldExpiries =
      fieldTtls && windowedOf(type).fieldTtls ? await expiriesOf(ask, key, items) : undefined;
    at.push(await sink(key, fieldExpiries ? { items, fieldExpiries } : { items }));
  }
  return at.length === 0 ? { kind: 'absent' } : { kind: 'windows', type, expireAt, at };
}

/** Each field's absolute expiry (ms, -1: none) of a hash window (field, value, …); undefined when none has one. */
async function expiriesOf(
  ask: (command: Command) => Promise<Reply>,
  key: Buffer,
  items: Buffer[],
): Promise<number[] | undefined> {
  const fields = items.filter((_, i) => i % 2 === 0);
  if (fields.length === 0) return undefined;
  const reply = await ask(['HPEXPIRETIME', key, 'FIELDS', fields.length, ...fields]);
  const expiries = Array.isArray(reply) ? reply.map((r) => (typeof r === 'number' && r >= 0 ? r : -1)) : [];
  return expiries.some((e) => e >= 0) ? expiries : undefined;
}

/** The commands that give a hash window's fields their expiries back, one per expiry time. */
function fieldExpiryCommands(key: Buffer, items: Buffer[], expiries: number[]): Command[] {
  const byTime = new Map<number, Buffer[]>();
  expiries.forEach((at, i) => {
    if (at < 0) return;
    const fields = byTime.get(at) ?? [];
    byTime.set(at, fields);
    fields.push(items[2 * i]!);
  });
  return [...byTime].map(
    ([at, fields]): Command => ['HPEXPIREAT', key, at, 'FIELDS', fields.length, ...fields],
  );
}

/**
 * The name a big key is rebuilt under before it replaces the key: in the key's slot (RENAME never
 * crosses slots on a cluster) and the same on every attempt, so that a rollback or resume killed
 * half-way and run again first deletes what the last attempt left (which also expires by its lease).
 */
export function restoreTempKey(key: Buffer): Buffer {
  const id = createHash('sha256').update(key).digest('hex').slice(0, 24);
  return Buffer.from(`${TEMP_PREFIX}{${tagForSlot(keySlot(key))}}:restore:${id}`);
}

/**
 * Puts a big key back from its journaled windows (SPEC §6.2): rebuilt window by window under a
 * temporary key in its slot, then RENAMEd over the key with its original expiry in one MULTI/EXEC,
 * so a reader sees the run's value or the prior one, never half; a target without RENAME (Pika) has the
 * key emptied and rebuilt in place, its expiry last. One window in memory at a time.
 * Idempotent: a second put-back rebuilds the same key. A key whose prior lifetime is over is deleted.
 */
export async function restoreWindows(
  target: Transport,
  caps: Caps,
  clock: TargetClock,
  key: Buffer,
  prior: Extract<PriorState, { kind: 'windows' }>,
  load: WindowLoader,
  oneType = false,
): Promise<void> {
  // Without RENAME (Pika) the key itself is emptied and rebuilt: a reader may see it part-way.
  const aside = caps.rename;
  const tmp = aside ? restoreTempKey(key) : key;
  // `oneType`: the prior is one type of a Pika 3.x name, emptied alone (DEL would take the others).
  const empty = (): Promise<void> =>
    oneType ? clearType(target, key, prior.type) : sendChecked(target, [['DEL', tmp]]);
  // Its prior lifetime is over by now: it would be gone, so it is deleted.
  if (prior.expireAt !== null && prior.expireAt <= targetTime(clock)) {
    if (aside) await sendChecked(target, [['DEL', key]]);
    await empty();
    return;
  }
  const refused = (err: unknown): never => {
    throw isServerReply(err) ? new Error(`the target refused a restore: ${replyText(err)}`) : err;
  };
  /** Writes the windows into `tmp` (emptied before); false when one of them was not confirmed. */
  const rebuild = async (): Promise<boolean> => {
    let leasedAt = Number.NEGATIVE_INFINITY;
    for (const offset of prior.at) {
      const { items, fieldExpiries } = await load(offset);
      const commands: Command[] = WINDOWS[prior.type].write(tmp, items, caps);
      if (fieldExpiries) commands.push(...fieldExpiryCommands(tmp, items, fieldExpiries));
      // The lease: a rebuild that dies half-way leaves nothing for long.
      if (aside && now() - leasedAt > TEMP_LEASE_RENEW_MS) {
        commands.push(['PEXPIRE', tmp, TEMP_TTL_MS]);
        leasedAt = now();
      }
      if (!(await sendAndWait(target, commands))) return false;
    }
    return true;
  };
  // A window whose reply a drop hid (or that WAIT did not confirm) may or may not be there; a list's or
  // a string's window sent again would be there twice. The value is built again from the start instead.
  for (let attempt = 1; ; attempt++) {
    await empty();
    if (await rebuild().catch(refused)) break;
    if (attempt >= MAX_FAILOVER_ROUNDS) throw new UnconfirmedError(UNCONFIRMED);
    await afterUnconfirmed(target);
  }
  const targetNow = targetTime(clock);
  if (!aside) {
    // One type of a name: the name may have had another expiry from the run, so none is said too.
    if (prior.expireAt !== null)
      await sendChecked(target, [lifetimeOf(key, prior.expireAt, caps, clock, targetNow)]);
    else if (oneType) await sendChecked(target, [['PERSIST', key]]);
    return;
  }
  const lifetime: Command =
    prior.expireAt === null ? ['PERSIST', key] : lifetimeOf(key, prior.expireAt, caps, clock, targetNow);
  // Applied once: after a drop or an unconfirmed WAIT, the temporary key tells (RENAME removes it).
  await applyConfirmed(target, [['MULTI'], ['RENAME', tmp, key], lifetime, ['EXEC']], {
    kind: 'removes',
    key: tmp,
  }).catch(refused);
}

/** Idempotent writes of a put-back (DELs, a lifetime). */
function sendChecked(target: Transport, commands: Command[]): Promise<void> {
  return sendIdempotent(target, commands, 'the target refused a restore');
}
