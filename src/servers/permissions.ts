import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ConnectionError } from '../common/errors.js';
import { refusesCommand, replyText } from './errors/classify.js';

/**
 * Permission checks before the first write (SPEC §6.4): a target user who may not write, or a source
 * user who may not read, is exit 2 with the refused command named, in a dry run too, instead of a run
 * that fails half-way.
 *
 * How each command is tried, first to last:
 * 1. `ACL DRYRUN <user> <command> <args>` (Redis 7.0+) answers without running anything. It needs
 *    admin rights, which a restricted user seldom has; any reply but a verdict (an error, NOPERM on ACL
 *    itself, Pika's "ERR Command 'SET' not found") means "cannot tell" and moves on to 2.
 * 2. A harmless probe on a random key that does not exist:
 *    - sources: the read itself (TYPE, SCAN, DUMP of an absent key changes nothing);
 *    - target: the write inside MULTI … DISCARD. Redis checks the ACL when it queues a command, so a
 *      refused write answers NOPERM and an allowed one QUEUED; DISCARD drops it unrun. No command is
 *      ever executed on the target (SPEC §6.1 holds for a dry run).
 *    Where MULTI itself is unknown (Pika 3.x), the write checks cannot tell and the run goes on.
 * A missing command (`unknown command`, renamed away) is not a permission problem: the write paths
 * handle it (RESTORE missing → native writes). Nor is a refused key: the probe key is random, and a user
 * limited to key patterns may well be allowed every key of the run.
 */
export const KEY = Symbol('probe key');

/** The write commands of a run on the target (RESTORE is optional: without it the run writes natively). */
export const TARGET_WRITES: (string | typeof KEY)[][] = [
  ['SET', KEY, 'v'],
  ['DEL', KEY],
  ['HSET', KEY, 'f', 'v'],
  ['SADD', KEY, 'm'],
  ['ZADD', KEY, '1', 'm'],
  ['RPUSH', KEY, 'v'],
  ['PEXPIREAT', KEY, '1'],
];
/** The reads on the target (probe, merges). */
export const TARGET_READS: (string | typeof KEY)[][] = [
  ['TYPE', KEY],
  ['PTTL', KEY],
];
/** The reads of a run on a source. */
export const SOURCE_READS: (string | typeof KEY)[][] = [
  ['SCAN', '0', 'COUNT', '1'],
  ['TYPE', KEY],
  ['PTTL', KEY],
  ['GET', KEY],
  ['HGETALL', KEY],
  ['LRANGE', KEY, '0', '-1'],
];

type Verdict = 'allowed' | { refused: string; command?: string } | 'unknown' | 'unqueued';

/** Throws a ConnectionError (exit 2) naming the first command the user may not run. */
export async function checkPermissions(
  redis: Redis,
  role: 'source' | 'target',
  where: string,
  /** `username`: the URL's user, named in the message when the server will not say (ACL WHOAMI refused). */
  opts: { writes: boolean; username?: string },
): Promise<void> {
  const key = `kvmerge:permission-probe:${randomBytes(8).toString('hex')}`;
  const fill = (c: (string | typeof KEY)[]): string[] => c.map((a) => (a === KEY ? key : a));
  // Behind Sentinel the target's writes are confirmed with WAIT, and ROLE counts the replicas and tells a
  // demoted master (README "Sentinel"). WAIT 0 0 returns at once.
  const sentinel = role === 'target' && (redis.options.sentinels?.length ?? 0) > 0;
  const reads = [
    ...(role === 'source' ? SOURCE_READS : TARGET_READS),
    ...(sentinel ? [['ROLE'], ['WAIT', '0', '0']] : []),
  ].map(fill);
  const writes = role === 'target' && opts.writes ? TARGET_WRITES.map(fill) : [];
  const known = await whoami(redis);
  const user = known ?? opts.username;
  const refuse = (command: string, detail: string): never => {
    const fix =
      command === 'ROLE' || command === 'WAIT'
        ? `behind Sentinel the target's user needs ROLE and WAIT (e.g. ACL SETUSER ${user ?? '<user>'} +role +wait)`
        : role === 'target'
          ? `grant it the write commands (e.g. ACL SETUSER ${user ?? '<user>'} +@write +@read +multi +exec)`
          : `grant it read access (e.g. ACL SETUSER ${user ?? '<user>'} +@read)`;
    throw new ConnectionError(
      `${role} ${where}: the user ${user ? `"${user}" ` : ''}may not run ${command.toUpperCase()} (${detail}); ${fix}`,
    );
  };
  let queues = true;
  for (const command of [...reads, ...writes]) {
    const dry = known === undefined ? 'unknown' : await dryRun(redis, known, command);
    if (dry === 'allowed') continue;
    if (typeof dry === 'object') refuse(command[0]!, dry.refused);
    const isWrite = writes.includes(command);
    if (isWrite && !queues) continue;
    const probed = isWrite ? await probeWrite(redis, command, key) : await probeRead(redis, command);
    if (probed === 'unqueued') queues = false;
    else if (typeof probed === 'object') refuse(probed.command ?? command[0]!, probed.refused);
  }
}

async function whoami(redis: Redis): Promise<string | undefined> {
  try {
    return String(await redis.call('ACL', 'WHOAMI'));
  } catch {
    return undefined;
  }
}

async function dryRun(redis: Redis, user: string, command: string[]): Promise<Verdict> {
  try {
    const reply = String(await redis.call('ACL', 'DRYRUN', user, ...command));
    if (reply === 'OK') return 'allowed';
    // "This user has no permissions to run the 'set' command". A refused key ("... to access the
    // '<probe key>' key") says nothing about the keys of the run: cannot tell.
    if (/no permissions to run/i.test(reply)) return { refused: reply };
    return 'unknown';
  } catch {
    return 'unknown';
  }
}

function verdictOf(err: unknown): Verdict {
  // Only a refused command counts: a refused key (the user is limited to some key patterns) is about
  // the random probe key, not the run's keys, which then fail one by one under --on-error.
  if (err instanceof Error && refusesCommand(err)) return { refused: replyText(err) };
  return 'unknown';
}

async function probeRead(redis: Redis, command: string[]): Promise<Verdict> {
  try {
    await redis.call(command[0]!, ...command.slice(1));
    return 'allowed';
  } catch (err) {
    return verdictOf(err);
  }
}

/**
 * MULTI, the write, DISCARD: ACL is checked at queueing time, nothing runs. A server that answers the
 * write with anything but QUEUED or an error did not queue it (MULTI accepted but not honoured): the
 * probe key it may have created is deleted, and no further write is probed ('unqueued').
 */
async function probeWrite(redis: Redis, command: string[], key: string): Promise<Verdict> {
  try {
    await redis.call('MULTI');
  } catch (err) {
    // Without MULTI the run cannot write atomically either: a NOPERM on it is a refusal.
    const verdict = verdictOf(err);
    return typeof verdict === 'object' ? { ...verdict, command: 'MULTI' } : verdict;
  }
  let verdict: Verdict = 'unknown';
  try {
    const queued = await redis.call(command[0]!, ...command.slice(1));
    if (String(queued) === 'QUEUED') verdict = 'allowed';
    else verdict = 'unqueued';
  } catch (err) {
    verdict = verdictOf(err);
  } finally {
    await redis.call('DISCARD').catch(() => undefined);
    if (verdict === 'unqueued') await redis.call('DEL', key).catch(() => undefined);
  }
  return verdict;
}
