import type { Socket } from 'node:net';
import { endpointText } from '../common/endpoint.js';
import { ConnectionError, KvmergeError } from '../common/errors.js';
import type { MergePlan, TlsPlan } from '../config/plan.js';
import { tlsOptions } from '../config/tls.js';
import { parseRedisUrl, redactUrl } from '../config/url.js';
import { checkJournalRoom } from '../journal/state-dir.js';
import type { Caps } from '../servers/caps.js';
import type { ServerEvents } from '../servers/events.js';
import { checkPermissions } from '../servers/permissions.js';
import { closeServer, openServer, openTransport, type Server, serverKeyspace } from '../servers/server.js';
import type { NetworkOptions } from '../servers/socket.js';
import { explainTls } from '../servers/tls.js';
import type { Transport } from '../servers/transport.js';
import { NO_SERVER, RdbFileSource } from '../sources/rdb-file.js';

/** The servers of a run, checked, with the hot path's connections open. */
export interface Connected {
  target: Server;
  targetInfo: Caps;
  /** Index for index with the plan's sources: undefined where the source is an RDB file. */
  sources: (Server | undefined)[];
  /** An RDB file source where its server is undefined (SPEC §10). */
  files: (RdbFileSource | undefined)[];
  sourceInfos: Caps[];
  targetPipe: Transport;
  sourcePipes: Transport[];
}

/**
 * SPEC §6.2: before the first write, the journal's disk must have room for it: a record per key of the
 * sources (DBSIZE) and the prior values of the keys the target already holds, estimated from its
 * dataset size (INFO memory) for at most as many keys as the sources hold. Exit 2 otherwise.
 */
export async function checkRoom(path: string, connected: Connected): Promise<void> {
  const { sources, sourceInfos, target, targetInfo } = connected;
  const sizes = await Promise.all(
    sources.map((s, i) =>
      s ? serverKeyspace(s.nodes, sourceInfos[i]!).catch(() => 0) : (connected.files[i]?.keys ?? 0),
    ),
  );
  const keys = sizes.reduce((a, b) => a + b, 0);
  const targetKeys = await serverKeyspace(target.nodes, targetInfo).catch(() => 0);
  let dataset = 0;
  if (targetKeys > 0) {
    for (const node of target.nodes) {
      const info = await node.info('memory').catch(() => '');
      dataset += Number(/^used_memory_dataset:(\d+)/m.exec(info)?.[1] ?? 0);
    }
  }
  const priorBytes = targetKeys > 0 ? (Math.min(keys, targetKeys) * dataset) / targetKeys : 0;
  await checkJournalRoom(path, keys, Math.round(priorBytes));
}

/**
 * Connects to the target and every source and checks them, before anything is written. A URL that
 * names a node of a cluster brings the whole cluster (redis/server.ts): its masters are probed,
 * checked for permissions and compared with the other side one by one.
 */
export async function connectAll(plan: MergePlan, events?: ServerEvents): Promise<Connected> {
  const opened: Server[] = [];
  const pipes: Transport[] = [];
  try {
    const target = await openServer(
      parseRedisUrl(plan.target.url, 'target.url'),
      'target',
      'target',
      network(plan, plan.target.tls),
    );
    opened.push(target);
    const sources: (Server | undefined)[] = [];
    const files: (RdbFileSource | undefined)[] = [];
    for (const source of plan.sources) {
      // An RDB file is opened and pre-read here, before any write (SPEC §10): damage is exit 2.
      if (source.file) {
        files.push(
          await RdbFileSource.open(source.name, source.file, source.match, plan.write.bigKeyBytes + 1),
        );
        sources.push(undefined);
        continue;
      }
      files.push(undefined);
      const server = await openServer(
        parseRedisUrl(source.url, 'sources[].url'),
        'source',
        `source ${source.name}`,
        network(plan, source.tls),
      );
      opened.push(server);
      sources.push(server);
    }
    const targetInfo = target.caps;
    const sourceInfos = sources.map((s, i) => s?.caps ?? files[i]!.caps());
    for (const [i, info] of sourceInfos.entries()) {
      const source = plan.sources[i]!;
      const server = sources[i];
      if (!server) continue;
      const sameDb = (server.nodes[0]!.options.db ?? 0) === (target.nodes[0]!.options.db ?? 0);
      if (sameDb && (await sameInstance(server, info, target, targetInfo))) {
        throw new ConnectionError(
          `source ${source.name} (${redactUrl(source.url)}) is the target itself: a merge needs a different instance or db`,
        );
      }
    }
    if (plan.write.mode === 'dump' && targetInfo.restore === false) {
      throw new ConnectionError(
        `target ${redactUrl(plan.target.url)} has no RESTORE: use --mode auto or native`,
      );
    }
    for (const file of files) {
      const reason = file?.nativeReason(targetInfo);
      if (plan.write.mode === 'dump' && reason !== undefined)
        throw new ConnectionError(
          `source ${file!.name}: ${reason}, which --mode dump cannot carry: use --mode auto or native`,
        );
    }
    const noDump = sourceInfos.findIndex((info) => info.dump === false);
    if (plan.write.mode === 'dump' && noDump >= 0) {
      const source = plan.sources[noDump]!;
      throw new ConnectionError(
        `source ${source.name} (${redactUrl(source.url)}) has no DUMP: use --mode auto or native`,
      );
    }
    // Permissions before the first write (SPEC §6.4), in a dry run too: exit 2 naming the command.
    // ACLs are per node: every master of a cluster is asked.
    for (const node of target.nodes) {
      await checkPermissions(node, 'target', redactUrl(plan.target.url), {
        writes: true,
        username: parseRedisUrl(plan.target.url).username,
      });
    }
    for (const [i, source] of plan.sources.entries()) {
      for (const node of sources[i]?.nodes ?? []) {
        await checkPermissions(node, 'source', `${source.name} (${redactUrl(source.url)})`, {
          writes: false,
          username: parseRedisUrl(source.url).username,
        });
      }
    }
    // The hot path's connections, once the checks above have passed.
    const targetPipe = await openPipe(target, 'target', network(plan, plan.target.tls, events));
    pipes.push(targetPipe);
    const sourcePipes: Transport[] = [];
    for (const [i, source] of plan.sources.entries()) {
      const server = sources[i];
      if (!server) {
        sourcePipes.push(NO_SERVER);
        continue;
      }
      const pipe = await openPipe(server, `source ${source.name}`, network(plan, source.tls, events));
      pipes.push(pipe);
      sourcePipes.push(pipe);
    }
    return { target, targetInfo, sources, files, sourceInfos, targetPipe, sourcePipes };
  } catch (err) {
    for (const pipe of pipes) pipe.close();
    await Promise.all(opened.map((server) => closeServer(server)));
    throw err;
  }
}

/** `events`: the run's channel, given to the hot path's pipes (their reconnections, bytes sent). */
export function network(plan: MergePlan, tls: TlsPlan | undefined, events?: ServerEvents): NetworkOptions {
  return { ...plan.network, tls: tlsOptions(tls), ...(events ? { events } : {}) };
}

/** The hot path's connection; failing to open it is found before any write (exit 2). */
async function openPipe(server: Server, label: string, options: NetworkOptions): Promise<Transport> {
  const endpoint = server.endpoint;
  try {
    return await openTransport(server, label, options);
  } catch (err) {
    if (err instanceof KvmergeError) throw err;
    const cause = ((err as Error).cause ?? err) as Error;
    const hint = explainTls(cause, endpoint.tls);
    const why = hint ?? (err as Error).message;
    throw new ConnectionError(hint ? `cannot connect to ${label} ${endpointText(endpoint)}: ${why}` : why);
  }
}

/**
 * Whether a source connection and the target connection reach one server (SPEC §1.7), whatever
 * addresses the URLs spell. INFO's run_id answers it; a read-only source user may not ask INFO, so
 * then the target is asked for its clients: the source connection is among them if it is the same
 * server. When neither can be asked, only the configuration's host/port comparison has applied.
 */
async function sameInstance(
  sourceServer: Server,
  sourceInfo: Caps,
  targetServer: Server,
  targetInfo: Caps,
): Promise<boolean> {
  // A cluster is the other side when any of its masters is (run_ids of every master).
  if (sourceServer.runIds.length > 0 && targetServer.runIds.length > 0) {
    return sourceServer.runIds.some((id) => targetServer.runIds.includes(id));
  }
  if (sourceInfo.cluster || targetInfo.cluster) return false;
  const source = sourceServer.nodes[0]!;
  const target = targetServer.nodes[0]!;
  const socket = (source as unknown as { stream?: Socket }).stream;
  if (!socket?.localPort) return false;
  let clients: string;
  try {
    clients = String(await target.client('LIST'));
  } catch {
    return false;
  }
  const ours = `${socket.localAddress?.replace(/^::ffff:/, '')}:${socket.localPort}`;
  return clients
    .split('\n')
    .some((line) => line.includes(` addr=${ours} `) || line.includes(` addr=[${ours}`));
}
