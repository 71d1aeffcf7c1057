import { ConnectionError } from '../common/errors.js';
import type { MergePlan, TlsPlan } from '../config/plan.js';
import { tlsOptions } from '../config/tls.js';
import { parseRedisUrl, redactUrl } from '../config/url.js';
import { type ScanBatch, scanBatches } from '../scan/scanner.js';
import { SeenKeys } from '../scan/seen-keys.js';
import type { Caps } from '../servers/caps.js';
import { closeServer, clusterView, openServer, openTransport, type Server } from '../servers/server.js';
import type { NetworkOptions } from '../servers/socket.js';
import type { Transport } from '../servers/transport.js';

/** The servers verify reads (the target and each source, only read) and how their keys are walked. */

export interface Side {
  /** The server or whole cluster the URL names: its masters are scanned. */
  server: Server;
  pipe: Transport;
  caps: Caps;
  /** `target` or `source NAME`, with the URL redacted: for messages. */
  label: string;
}

export interface Connected {
  target: Side;
  sources: Side[];
}

/** Connections that only read: the target as much as the sources. */
export async function connectAll(plan: MergePlan): Promise<Connected> {
  const opened: Side[] = [];
  const open = async (url: string, label: string, tls: TlsPlan | undefined): Promise<Side> => {
    const network: NetworkOptions = { ...plan.network, tls: tlsOptions(tls) };
    const server = await openServer(parseRedisUrl(url, 'sources[].url'), 'source', label, network);
    try {
      const caps = server.caps;
      const pipe = await openTransport(server, label, network);
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
    const sources: Side[] = [];
    for (const s of plan.sources) sources.push(await open(s.url, `source ${s.name}`, s.tls));
    return { target, sources };
  } catch (err) {
    for (const side of opened) side.pipe.close();
    await Promise.all(opened.map((s) => closeServer(s.server)));
    if (err instanceof Error && !(err instanceof ConnectionError) && err.name === 'ServerLostError') {
      throw new ConnectionError(err.message);
    }
    throw err;
  }
}

/** The keys of one side, in batches, each once: as the merge scans it. */
export function scanSide(
  plan: MergePlan,
  side: Side,
  match: string | undefined,
  log?: (line: string) => void,
): AsyncGenerator<ScanBatch> {
  return scanBatches(
    side.server.nodes,
    {
      match,
      count: plan.write.scanCount,
      batchSize: plan.write.batchSize,
      server: side.label,
      ...(log ? { log } : {}),
    },
    new SeenKeys(),
    0,
    side.caps,
    // A cluster: its masters as they are (a failover, a reshard, a master added) are walked.
    clusterView(side.server),
  );
}

export function withPrefix(prefix: Buffer, key: Buffer): Buffer {
  return prefix.length > 0 ? Buffer.concat([prefix, key]) : key;
}
