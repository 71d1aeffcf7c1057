/**
 * Writers for live-merge tests (SPEC §9): bounded loops that change a source while a follow runs, one
 * command at a time over a small key space, so that keys change many times, expire, are renamed and
 * deleted under the snapshot and the follow alike. `stop()` ends a loop and resolves once its last
 * command has been answered.
 */
import type { Redis } from 'ioredis';
import { prng } from '../../bench/prng.js';

export interface Writer {
  /** Commands sent so far. */
  readonly sent: number;
  stop(): Promise<void>;
}

export interface WriterOptions {
  seed: number;
  /** Keys per type (names `str:N`, `hash:N`, …). */
  keys?: number;
  /** Pause between commands (ms); 0: as fast as the server answers. */
  pauseMs?: number;
  /** Send one FLUSHDB after this many commands (undefined: never). */
  flushAfter?: number;
}

/** Starts a writer on `client`: SET, DEL, EXPIRE (short TTLs), list pushes, HSET/HDEL, ZINCRBY, SADD/SREM, RENAME. */
export function startWriter(client: Redis, opts: WriterOptions): Writer {
  const random = prng(opts.seed);
  const n = opts.keys ?? 50;
  const pick = (prefix: string): string => `${prefix}:${Math.floor(random() * n)}`;
  const value = (): string => `v${Math.floor(random() * 1000)}`;
  let running = true;
  let sent = 0;
  const ops: (() => Promise<unknown>)[] = [
    () => client.set(pick('str'), value()),
    () => client.set(pick('str'), value(), 'PX', 100 + Math.floor(random() * 400)),
    () => client.del(pick(['str', 'hash', 'list', 'set', 'zset'][Math.floor(random() * 5)]!)),
    () => client.pexpire(pick('hash'), 50 + Math.floor(random() * 500)),
    () => client.rpush(pick('list'), value()),
    () => client.lpush(pick('list'), value()),
    () => client.hset(pick('hash'), `f${Math.floor(random() * 5)}`, value()),
    () => client.hdel(pick('hash'), `f${Math.floor(random() * 5)}`),
    () => client.zincrby(pick('zset'), 1 + Math.floor(random() * 3), `m${Math.floor(random() * 5)}`),
    () => client.sadd(pick('set'), `m${Math.floor(random() * 8)}`),
    () => client.srem(pick('set'), `m${Math.floor(random() * 8)}`),
    () => client.rename(pick('str'), pick('str')).catch(() => undefined),
  ];
  const loop = (async () => {
    while (running) {
      await ops[Math.floor(random() * ops.length)]!().catch(() => undefined);
      sent++;
      if (opts.flushAfter !== undefined && sent === opts.flushAfter) await client.flushdb();
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
  })();
  return {
    get sent() {
      return sent;
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}
