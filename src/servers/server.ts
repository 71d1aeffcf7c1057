import { Cluster, type Redis } from 'ioredis';
import { endpointText, type RedisEndpoint } from '../common/endpoint.js';
import { ConnectionError } from '../common/errors.js';
import { type Caps, keyspaceSize, probeServer } from './caps.js';
import { measureClock, type TargetClock } from './clock.js';
import { ClusterTransport, NODE_RETRY_MS } from './cluster/cluster-transport.js';
import {
  type ClusterView,
  clusterLayout,
  MOVES_HIDDEN,
  movesVisible,
  settleLayout,
} from './cluster/layout.js';
import { nodeEndpoint } from './cluster/units.js';
import { close, connect, type Role } from './connect.js';
import { replyIs } from './errors/classify.js';
import { RespPipe } from './pipe.js';
import type { NetworkOptions } from './socket.js';
import type { Transport } from './transport.js';

/** A control connection: one server, or a whole cluster (ioredis routes by slot and follows MOVED/ASK). */
export type Control = Redis | Cluster;

/**
 * One URL of the run: a standalone server, or the whole Redis Cluster that one of its nodes names
 * (SPEC §4: recognised by `INFO cluster`, no flag).
 */
export interface Server {
  endpoint: RedisEndpoint;
  label: string;
  /** For control work on any key (big keys, temporary keys): a Redis, or a Cluster. */
  control: Control;
  /** One connection per master (standalone: `control` itself): SCAN, DBSIZE, TIME, permission checks. */
  nodes: Redis[];
  /** What it can do; on a cluster, what every master can do (the smallest proto-max-bulk-len). */
  caps: Caps;
  /** The run_id of every master (SPEC §1.7: a source that shares one with the target is the target). */
  runIds: string[];
  /**
   * A cluster: asks CLUSTER SLOTS again and makes `nodes` the masters of now (in place): connections to
   * new masters are opened (a promoted replica, a master added by a reshard), those to nodes that are
   * no longer masters are dropped. Retries while a master named cannot be reached (a failed master not
   * yet replaced), for at most the retry budget.
   */
  refreshMasters?(): Promise<void>;
  /** A cluster: its layout, for a walk to tell whether slots moved under it (scan/scanner.ts). */
  cluster?: ClusterView;
}

/** The ClusterView of a cluster server; undefined for a standalone one. */
export function clusterView(server: Server): ClusterView | undefined {
  return server.caps.cluster ? server.cluster : undefined;
}

/**
 * Connects to the server a URL names and learns what it can do. A node of a cluster brings the
 * whole cluster: a connection to every master (found with CLUSTER SLOTS) and an ioredis Cluster.
 * Failures are ConnectionErrors (exit 2), found before any write.
 */
export async function openServer(
  endpoint: RedisEndpoint,
  role: Role,
  label: string,
  network: NetworkOptions,
): Promise<Server> {
  const seed = await connect(endpoint, role, label, network);
  let caps: Caps;
  try {
    caps = await probeServer(seed);
  } catch (err) {
    await close(seed);
    throw err;
  }
  if (!caps.cluster) return { endpoint, label, control: seed, nodes: [seed], caps, runIds: runIdsOf([caps]) };
  const nodes: Redis[] = [];
  let control: Cluster | undefined;
  try {
    const masters = await mastersOf(
      seed,
      endpoint.host,
      `${label} ${endpointText(endpoint)}`,
      endpoint.username,
    );
    for (const { host, port } of masters) {
      nodes.push(
        await connect(
          nodeEndpoint(endpoint, host, port),
          role,
          `${label} node ${host}:${port}`,
          nodeNetwork(network),
        ),
      );
    }
    const all = await Promise.all(nodes.map((node) => probeServer(node)));
    const caps = clusterCaps(all);
    // Only a source's layout is compared (a walk: scan/scanner.ts; a follow's feed: follow/feed.ts).
    if (role === 'source' && !(await movesVisible(nodes))) caps.warnings.push(MOVES_HIDDEN);
    control = await connectCluster(endpoint, masters, network, label);
    const refreshMasters = () => refreshNodes(nodes, endpoint, role, label, network);
    const where = `${label} ${endpointText(endpoint)}`;
    const cluster: ClusterView = {
      layout: () => clusterLayout(nodes),
      settle: () => settleLayout(nodes, refreshMasters, where, network.retryBudgetMs),
    };
    return {
      endpoint,
      label,
      control,
      nodes,
      caps,
      runIds: runIdsOf(all),
      refreshMasters,
      cluster,
    };
  } catch (err) {
    control?.disconnect();
    await Promise.all(nodes.map((node) => close(node)));
    throw err;
  } finally {
    await close(seed);
  }
}

/** Closes every connection of a server. */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  if (server.control instanceof Cluster) {
    server.control.disconnect();
    await Promise.all(server.nodes.map((node) => close(node)));
  } else await close(server.control);
}

/** The hot path's transport: a RespPipe to a standalone server, a ClusterTransport to a cluster. */
export function openTransport(server: Server, label: string, network: NetworkOptions): Promise<Transport> {
  return server.caps.cluster
    ? ClusterTransport.open(server.endpoint, label, network)
    : RespPipe.open(server.endpoint, label, network);
}

/** Keys held, for progress totals: DBSIZE of each master (of one server: its own), summed. */
export async function serverKeyspace(nodes: readonly Redis[], caps: Caps): Promise<number> {
  const sizes = await Promise.all(nodes.map((node) => keyspaceSize(node, caps)));
  return sizes.reduce((a, b) => a + b, 0);
}

/**
 * The target's clock (write/ttl.ts). On a cluster every master has its own clock and a key's node is
 * only known when its write is routed (and may change with a reshard): the smallest offset of all
 * masters is taken, so an absolute expiry errs short on every node, never long (SPEC §1.5).
 */
export async function serverClock(server: Server): Promise<TargetClock> {
  const clocks = await Promise.all(server.nodes.map((node) => measureClock(() => node.time(), server.caps)));
  if (clocks.some((clock) => clock.offset === null)) return { ...clocks[0]!, offset: null, setPxat: false };
  return clocks.reduce((a, b) => (b.offset! < a.offset! ? b : a));
}

/**
 * A master's connection gives up quickly on a lost node: after a failover its slots are on the
 * promoted replica, found by refreshMasters (the scanner's walk fails at once instead of waiting out
 * the command timeout on a dead node, then walks the masters of now).
 */
function nodeNetwork(network: NetworkOptions): NetworkOptions {
  return { ...network, retryBudgetMs: Math.min(network.retryBudgetMs, NODE_RETRY_MS) };
}

/** Backoff between attempts of refreshNodes while a master named cannot be reached. */
const REFRESH_BACKOFF_MS = 250;

/** Server.refreshMasters: `nodes` replaced in place by the masters CLUSTER SLOTS names now. */
async function refreshNodes(
  nodes: Redis[],
  endpoint: RedisEndpoint,
  role: Role,
  label: string,
  network: NetworkOptions,
): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      // Nodes with a live connection answer at once; a dead one would first exhaust its retries.
      const ordered = [...nodes].sort((a, b) => Number(b.status === 'ready') - Number(a.status === 'ready'));
      const masters = await layoutMasters(ordered);
      // A connection that gave up (status end) is made again: the node may be back, or be another now.
      const byAddr = new Map(
        nodes.filter((n) => n.status !== 'end').map((n) => [`${n.options.host}:${n.options.port}`, n]),
      );
      const next: Redis[] = [];
      try {
        for (const { host, port } of masters) {
          next.push(
            byAddr.get(`${host}:${port}`) ??
              (await connect(
                nodeEndpoint(endpoint, host, port),
                role,
                `${label} node ${host}:${port}`,
                nodeNetwork(network),
              )),
          );
        }
      } catch (err) {
        for (const node of next) if (!nodes.includes(node)) node.disconnect();
        throw err;
      }
      for (const node of nodes) if (!next.includes(node)) node.disconnect();
      nodes.splice(0, nodes.length, ...next);
      return;
    } catch (err) {
      if (Date.now() - started + REFRESH_BACKOFF_MS > network.retryBudgetMs) {
        throw new ConnectionError(
          `${label} ${endpointText(endpoint)}: the cluster's masters could not all be reached for ` +
            `${Math.round((Date.now() - started) / 1000)}s (${(err as Error).message.split('\n')[0]}); ` +
            'check CLUSTER NODES on its nodes, then run again',
        );
      }
      await new Promise((r) => setTimeout(r, REFRESH_BACKOFF_MS));
    }
  }
}

/** The masters that own slots, asked of the nodes in turn until one answers. */
async function layoutMasters(nodes: readonly Redis[]): Promise<{ host: string; port: number }[]> {
  let last: unknown = new Error('no node to ask');
  for (const node of nodes) {
    try {
      const slots = (await node.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      const found = new Map<string, { host: string; port: number }>();
      for (const [, , [ip, port]] of slots) {
        const host = ip || String(node.options.host);
        found.set(`${host}:${port}`, { host, port: Number(port) });
      }
      return [...found.values()];
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** The masters of a cluster, from CLUSTER SLOTS (an empty ip means the node that was asked). */
async function mastersOf(
  seed: Redis,
  seedHost: string,
  where: string,
  user: string | undefined,
): Promise<{ host: string; port: number }[]> {
  let slots: [number, number, [string, number]][];
  try {
    slots = (await seed.call('CLUSTER', 'SLOTS')) as typeof slots;
  } catch (err) {
    if (!replyIs(err, 'noperm')) throw err;
    throw new ConnectionError(
      `${where} is a node of a Redis Cluster, and its user may not run CLUSTER SLOTS, which finds the ` +
        `cluster's masters; grant it (ACL SETUSER ${user ?? '<user>'} +cluster|slots) on every node`,
    );
  }
  const found = new Map<string, { host: string; port: number }>();
  for (const [, , [ip, port]] of slots) {
    const host = ip || seedHost;
    found.set(`${host}:${port}`, { host, port: Number(port) });
  }
  if (found.size === 0) {
    throw new ConnectionError(`${where}: the cluster has no slots assigned; check CLUSTER INFO on its nodes`);
  }
  return [...found.values()];
}

async function connectCluster(
  endpoint: RedisEndpoint,
  masters: { host: string; port: number }[],
  network: NetworkOptions,
  label: string,
): Promise<Cluster> {
  const cluster = new Cluster(masters, {
    lazyConnect: true,
    enableReadyCheck: false,
    slotsRefreshTimeout: network.connectTimeoutMs,
    clusterRetryStrategy: (attempt) => (attempt > 10 ? null : Math.min(100 * attempt, 2_000)),
    redisOptions: {
      username: endpoint.username,
      password: endpoint.password,
      connectTimeout: network.connectTimeoutMs,
      commandTimeout: network.commandTimeoutMs,
      ...(endpoint.tls ? { tls: { ...network.tls } } : {}),
    },
  });
  cluster.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    // ioredis retries a cluster it cannot map (clusterRetryStrategy) without a deadline of its own.
    const limit = 2 * network.connectTimeoutMs;
    await Promise.race([
      cluster.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no usable slot map within ${limit / 1000}s`)), limit);
      }),
    ]);
  } catch (err) {
    cluster.disconnect();
    throw new ConnectionError(
      `cannot use ${label} ${endpointText(endpoint)} as a cluster: ${(err as Error).message.split('\n')[0]}`,
    );
  } finally {
    clearTimeout(timer);
  }
  return cluster;
}

/** What every master of a cluster can do: the first one's answers, the smallest bulk limit, DUMP/RESTORE only where all have them. */
function clusterCaps(all: Caps[]): Caps {
  const every = (pick: (c: Caps) => boolean | undefined): boolean | undefined =>
    all.some((c) => pick(c) === false) ? false : all.every((c) => pick(c) === true) ? true : undefined;
  return {
    ...all[0]!,
    runId: undefined,
    cluster: true,
    dump: every((c) => c.dump),
    restore: every((c) => c.restore),
    protoMaxBulkLen: Math.min(...all.map((c) => c.protoMaxBulkLen)),
    warnings: [...new Set(all.flatMap((c) => c.warnings))],
  };
}

function runIdsOf(all: Caps[]): string[] {
  return all.flatMap((c) => (c.runId ? [c.runId] : []));
}
