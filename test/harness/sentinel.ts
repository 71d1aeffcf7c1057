/**
 * A master set watched by Sentinel, for tests: a master, one replica and three sentinels (redis-server
 * in sentinel mode, quorum 2), each on a free loopback port in its own temporary directory, all removed
 * by stop().
 *
 * Example:
 *   const set = await startSentinelSet();
 *   await set.master().set('k', 'v');           // the current master
 *   const url = set.url(0);                      // redis+sentinel://127.0.0.1:P1,…/mymaster/0
 *   await set.failover();                        // the replica is promoted; resolves once it is master
 *   await set.stop();
 */
import type { Redis } from 'ioredis';
import { type LocalRedis, startLocalRedis } from '../../src/demo/local-server.js';
import { type RedisServer, startRedis } from './redis.js';

export const MASTER_NAME = 'mymaster';

export interface SentinelSet {
  /** The two data servers, [initial master, initial replica]. */
  readonly servers: RedisServer[];
  readonly sentinels: LocalRedis[];
  /** `redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/mymaster/db`. */
  url(db?: number): string;
  /** The data server that the sentinels name as the master now. */
  currentMaster(): Promise<RedisServer>;
  /** A client of the current master. */
  master(): Promise<Redis>;
  /**
   * Forces a failover (SENTINEL FAILOVER) and resolves once the sentinels name the other server and it
   * says it is master. The old master is demoted by the sentinels some seconds later.
   */
  failover(): Promise<RedisServer>;
  /**
   * Kills `master` (the current master; SIGKILL, at once) and resolves once the sentinels have promoted
   * the replica (they first wait `down-after-milliseconds`, 1 s here, to agree that it is down). The
   * killed server is gone from `servers`.
   */
  killMaster(master: RedisServer): Promise<RedisServer>;
  /**
   * Waits until the sentinels have turned `server` (a master before a failover) into a replica; they kill
   * its clients' connections as they do (CLIENT KILL TYPE normal).
   */
  demoted(server: RedisServer): Promise<void>;
  /** Waits until every server that is not the master replicates it with its link up, and the sentinels list it. */
  synced(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSentinelSet(): Promise<SentinelSet> {
  const servers: RedisServer[] = [];
  const sentinels: LocalRedis[] = [];
  const set = new MasterSet(servers, sentinels);
  try {
    servers.push(await startRedis());
    servers.push(await startRedis({ args: ['--replicaof', '127.0.0.1', String(servers[0]!.port)] }));
    const conf = [
      ['monitor', MASTER_NAME, '127.0.0.1', String(servers[0]!.port), '2'],
      ['down-after-milliseconds', MASTER_NAME, '1000'],
      ['failover-timeout', MASTER_NAME, '5000'],
    ];
    const args = conf.flatMap((line) => ['--sentinel', ...line]);
    for (let i = 0; i < 3; i++) {
      sentinels.push(await startLocalRedis({ args: [...args, '--sentinel'], stopOnSignals: true }));
    }
    await set.synced();
    await set.sentinelsKnowReplica();
    return set;
  } catch (err) {
    await set.stop();
    throw err;
  }
}

class MasterSet implements SentinelSet {
  constructor(
    readonly servers: RedisServer[],
    readonly sentinels: LocalRedis[],
  ) {}

  private readonly admins = new Map<RedisServer, Redis>();

  /** One connection per data server for the harness's own questions. */
  private admin(server: RedisServer): Redis {
    let client = this.admins.get(server);
    if (!client) {
      client = server.client();
      this.admins.set(server, client);
    }
    return client;
  }

  url(db = 0): string {
    const nodes = this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
    return `redis+sentinel://${nodes}/${MASTER_NAME}/${db}`;
  }

  private async ask(index: number, ...args: string[]): Promise<unknown> {
    const server = this.servers[0]!;
    // A client of a sentinel: RedisServer.client() takes the port in its options.
    const client = server.client(0, { port: this.sentinels[index]!.port, lazyConnect: false });
    try {
      return await client.call('SENTINEL', ...args);
    } finally {
      client.disconnect();
    }
  }

  async currentMaster(): Promise<RedisServer> {
    const [, port] = (await this.ask(0, 'get-master-addr-by-name', MASTER_NAME)) as [string, string];
    const server = this.servers.find((s) => s.port === Number(port));
    if (!server) throw new Error(`the sentinels name an unknown master on port ${port}`);
    return server;
  }

  async master(): Promise<Redis> {
    return (await this.currentMaster()).client();
  }

  async synced(): Promise<void> {
    const master = await this.currentMaster();
    await until('replicas in sync', async () => {
      for (const s of this.servers) {
        if (s === master) continue;
        const info = String(await this.admin(s).info('replication'));
        if (!info.includes(`master_port:${master.port}`) || !info.includes('master_link_status:up'))
          return false;
      }
      return true;
    });
    // Ready for the next failover too (where a replica is left): the sentinels learn a demoted master's
    // new role only from INFO every 10 s, which a loaded machine can stretch past a test's patience.
    if (this.servers.length > 1) await this.sentinelsKnowReplica();
  }

  /** Every sentinel lists the replica (SENTINEL FAILOVER answers NOGOODSLAVE until then). */
  async sentinelsKnowReplica(): Promise<void> {
    await until('sentinels know the replica', async () => {
      for (let i = 0; i < this.sentinels.length; i++) {
        const replicas = (await this.ask(i, 'replicas', MASTER_NAME)) as string[][];
        const ok = replicas.some((r) => {
          const flags = r[r.indexOf('flags') + 1] ?? '';
          return flags === 'slave' && r[r.indexOf('master-link-status') + 1] === 'ok';
        });
        if (!ok) return false;
      }
      return true;
    });
  }

  async failover(): Promise<RedisServer> {
    const before = await this.currentMaster();
    await this.sentinelsKnowReplica();
    await this.ask(0, 'failover', MASTER_NAME);
    let after: RedisServer | undefined;
    await until('the failover', async () => {
      after = await this.currentMaster();
      if (after === before) return false;
      const role = (await this.admin(after).call('ROLE')) as unknown[];
      return role[0] === 'master';
    });
    return after!;
  }

  killMaster(master: RedisServer): Promise<RedisServer> {
    // SIGKILL at once, before any await: the caller picks the moment (a crash, not a shutdown).
    process.kill(master.pid, 'SIGKILL');
    this.admins.get(master)?.disconnect();
    this.admins.delete(master);
    this.servers.splice(this.servers.indexOf(master), 1);
    return (async () => {
      await master.stop();
      let after: RedisServer | undefined;
      await until('the failover after the kill', async () => {
        after = await this.currentMaster();
        if (after === master) return false;
        const role = (await this.admin(after).call('ROLE')) as unknown[];
        return role[0] === 'master';
      });
      return after!;
    })();
  }

  async demoted(server: RedisServer): Promise<void> {
    await until('the old master demoted', async () => {
      const role = (await this.admin(server).call('ROLE')) as unknown[];
      return role[0] === 'slave';
    });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.servers].map((s) => s.stop()));
  }
}

/** Polls `check` every 100 ms until it is true, for at most 30 s. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not yet: a server that is switching roles may refuse a command for a moment.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits for `until` (a failover) while slowing down what servers serve: each is paused (CLIENT PAUSE,
 * `ALL` or only `WRITE` commands) for 150 ms of every 200, so a run against them still reads and writes
 * during the switch but cannot end before it, however long the sentinels take.
 */
export async function throttled<T>(
  servers: Redis[],
  until: Promise<T>,
  mode: 'ALL' | 'WRITE' = 'ALL',
  { pauseMs = 150, gapMs = 50 }: { pauseMs?: number; gapMs?: number } = {},
): Promise<T> {
  let done = false;
  const slowing = servers.map(async (server) => {
    while (!done) {
      await server.call('CLIENT', 'PAUSE', pauseMs, mode);
      await new Promise((r) => setTimeout(r, pauseMs + gapMs));
    }
  });
  try {
    return await until;
  } finally {
    done = true;
    await Promise.all(slowing);
  }
}
