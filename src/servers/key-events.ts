import type { Redis } from 'ioredis';
import { replyIs } from './errors/classify.js';

/**
 * Keyspace notifications of one server (SPEC §9.2): the names of the keys that change, as the server
 * publishes them on `__keyevent@<db>__:<event>` (one message per change: the event is the channel,
 * the key the message). Every event counts as a change of its key: a write, a delete, an expiry, an
 * eviction, each side of a RENAME or MOVE. The server never says it flushed (FLUSHDB and FLUSHALL
 * publish nothing): the feed above watches for that (follow/watch.ts).
 *
 * Notifications are not durable: what is published while the connection is down is lost. So a
 * subscription says when it may have missed changes (`gap`), once it is subscribed again, so that a
 * pass over the source that starts then cannot miss a change made after it.
 */

/** The `notify-keyspace-events` classes the feed needs: keyevent names, and every event of every type. */
export const NEEDED_EVENTS = 'Eg$lshzxet';

/** Where the events of one subscription go. */
export interface KeyEventSink {
  /** A key changed (the raw key, binary safe). */
  changed(key: Buffer): void;
  /** Changes may have been missed (the connection dropped and is back, subscribed): why, in words. */
  gap(reason: string): void;
}

export interface KeyEvents {
  /** Ends the subscription and its connection. */
  close(): void;
}

/** How long a lost subscription waits between attempts to come back (it never gives up: a follow outlives restarts). */
const MAX_BACKOFF_MS = 1_000;

/**
 * Subscribes to the key events of database `db` on `node`'s server, on a connection of its own (a
 * subscribed connection can carry nothing else). Resolves once subscribed. The connection comes back
 * after a drop, a restart or (behind Sentinel) a failover, however long it takes, and reports a gap.
 */
export async function subscribeKeyEvents(node: Redis, db: number, sink: KeyEventSink): Promise<KeyEvents> {
  const pattern = `__keyevent@${db}__:*`;
  const sub = node.duplicate({
    lazyConnect: true,
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, MAX_BACKOFF_MS),
    // A subscribed connection answers nothing between messages: a command timeout would cut it.
    commandTimeout: undefined,
    maxRetriesPerRequest: null,
    autoResubscribe: false,
  });
  sub.on('error', () => {
    // Reported by the gap once the connection is back; ioredis would print it otherwise.
  });
  let lost: string | undefined;
  let closed = false;
  sub.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, key: Buffer) => sink.changed(key));
  sub.on('close', () => {
    if (!closed) lost ??= 'the subscription to its keyspace notifications dropped';
  });
  sub.on('ready', () => {
    const why = lost;
    if (why === undefined || closed) return;
    // Subscribed again before the gap is told: a pass that starts then sees every later change.
    sub.psubscribe(pattern).then(
      () => {
        lost = undefined;
        sink.gap(why);
      },
      () => sub.disconnect(true),
    );
  });
  await sub.connect();
  try {
    await sub.psubscribe(pattern);
  } catch (err) {
    sub.disconnect();
    if (replyIs(err, 'noperm')) {
      throw new Error(`may not subscribe to ${pattern} (grant the user &__keyevent@*__:* and +psubscribe)`);
    }
    throw err;
  }
  return {
    close() {
      closed = true;
      sub.disconnect();
    },
  };
}

/**
 * Whether `node`'s server publishes what the feed needs (NEEDED_EVENTS; `A` stands for every type's
 * class). Returns undefined when it does, else the `CONFIG SET` that would make it (what it has, plus
 * what is missing). With `set`, runs that line itself first (--set-notify-config).
 */
export async function checkKeyEventConfig(node: Redis, set: boolean): Promise<string | undefined> {
  const read = async (): Promise<string> => {
    const reply = (await node.config('GET', 'notify-keyspace-events')) as string[];
    return reply[1] ?? '';
  };
  const missingOf = (have: string): string => {
    const classes = new Set(have.replace('A', 'g$lshzxetd'));
    return [...NEEDED_EVENTS].filter((c) => !classes.has(c)).join('');
  };
  let have = await read();
  if (missingOf(have) === '') return undefined;
  const wanted = `${have}${missingOf(have)}`;
  if (set) {
    await node.config('SET', 'notify-keyspace-events', wanted);
    have = await read();
    if (missingOf(have) === '') return undefined;
  }
  return `CONFIG SET notify-keyspace-events ${wanted}`;
}

/** What tells a flush or a restart that no notification announces: the server's run_id and its flush counts. */
export interface ChangeMarks {
  runId: string;
  /** FLUSHDB and FLUSHALL calls since the server started (or its stats were reset); -1 if INFO hides them. */
  flushes: number;
}

/** The marks of `node`'s server now (INFO server and INFO commandstats). */
export async function changeMarks(node: Redis): Promise<ChangeMarks> {
  const [server, stats] = await Promise.all([node.info('server'), node.info('commandstats')]);
  const runId = /^run_id:(\S+)/m.exec(server)?.[1] ?? '';
  let flushes = 0;
  let seen = false;
  for (const m of stats.matchAll(/^cmdstat_flush(?:db|all):calls=(\d+)/gm)) {
    flushes += Number(m[1]);
    seen = true;
  }
  // A server that never flushed lists no such line: 0, unless it lists no command at all.
  return { runId, flushes: seen || /^cmdstat_/m.test(stats) ? flushes : -1 };
}
