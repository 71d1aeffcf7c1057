import { ConnectionError } from '../common/errors.js';
import type { MergePlan, TlsPlan } from '../config/plan.js';
import { tlsOptions } from '../config/tls.js';
import { parseRedisUrl, redactUrl } from '../config/url.js';
import type { ScannedSource, SourcePass } from '../run/loop.js';
import type { Caps } from '../servers/caps.js';
import type { ServerEvents } from '../servers/events.js';
import { closeServer, clusterView, openServer, openTransport, type Server } from '../servers/server.js';
import type { NetworkOptions } from '../servers/socket.js';
import type { Transport } from '../servers/transport.js';
import { FileSide } from './file-side.js';

/** The servers verify reads (the target and each source, only read) and how their keys are walked. */

export interface Side {
  /** The server or whole cluster the URL names: its masters are scanned. */
  server: Server;
  pipe: Transport;
  caps: Caps;
  /** `target` or `source NAME`, with the URL redacted: for messages. */
  label: string;
}

/** A source as verify reads it: a server, or an RDB file (file-side.ts). */
export type SourceSide = Side | FileSide;

export interface Connected {
  target: Side;
  sources: SourceSide[];
}

/** Connections that only read: the target as much as the sources; an RDB file source is opened and pre-read. */
export async function connectAll(plan: MergePlan, events?: ServerEvents): Promise<Connected> {
  const opened: SourceSide[] = [];
  const open = async (url: string, label: string, tls: TlsPlan | undefined): Promise<Side> => {
    const network: NetworkOptions = { ...plan.network, tls: tlsOptions(tls) };
    const server = await openServer(parseRedisUrl(url, 'sources[].url'), 'source', label, network);
    try {
      const caps = server.caps;
      // The hot path's pipe says its reconnections on the run's event channel, as the merge's do.
      const pipe = await openTransport(server, label, events ? { ...network, events } : network);
      const side = { server, pipe, caps, label: `${label} ${redactUrl(url)}` };
      opened.push(side);
      return side;
    } catch (err) {
      await closeServer(server);
      throw err;
    }
  };
  try {
    const target = await open(plan.target.url, 'target', plan.target.tls);
    const sources: SourceSide[] = [];
    for (const s of plan.sources) {
      if (!s.file) {
        sources.push(await open(s.url, `source ${s.name}`, s.tls));
        continue;
      }
      const file = await FileSide.open(s, plan.write);
      opened.push(file);
      sources.push(file);
    }
    return { target, sources };
  } catch (err) {
    await closeAll(opened);
    if (err instanceof Error && !(err instanceof ConnectionError) && err.name === 'ServerLostError') {
      throw new ConnectionError(err.message);
    }
    throw err;
  }
}

/** Closes every side: a server's pipe and connections, a file's reader. */
export async function closeAll(sides: readonly SourceSide[]): Promise<void> {
  for (const side of sides) if (!(side instanceof FileSide)) side.pipe.close();
  await Promise.all(sides.map((s) => (s instanceof FileSide ? s.close() : closeServer(s.server))));
}

/**
 * One source as the run loop's walk passes over it (run/loop.ts): a server's scan, or a file's own
 * batches (`hold`: their records kept for the check, until FileSide.release).
 */
export function sourcePass(
  side: SourceSide,
  plan: MergePlan,
  match: string | undefined,
  hold: boolean,
  log?: (line: string) => void,
): Pick<SourcePass, 'scan' | 'batches'> {
  if (!(side instanceof FileSide)) return { scan: scannedSide(side, match, log) };
  return {
    scan: { nodes: [], caps: side.caps, match, label: side.label, log },
    batches: side.batches(plan.write.batchSize, hold),
  };
}

/** One side as the run loop's walk scans it (run/loop.ts), as the merge scans a source. */
export function scannedSide(
  side: Side,
  match: string | undefined,
  log?: (line: string) => void,
): ScannedSource {
  return {
    nodes: side.server.nodes,
    caps: side.caps,
    // A cluster: its masters as they are (a failover, a reshard, a master added) are walked.
    cluster: clusterView(side.server),
    match,
    label: side.label,
    log,
  };
}

export function withPrefix(prefix: Buffer, key: Buffer): Buffer {
  return prefix.length > 0 ? Buffer.concat([prefix, key]) : key;
}
