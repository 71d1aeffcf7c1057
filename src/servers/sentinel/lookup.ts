import type { SentinelSpec } from '../../common/endpoint.js';
import { replyIs } from '../errors/classify.js';
import type { Command, Reply } from '../resp.js';
import { connectSocket, handshake, type NetworkOptions } from '../socket.js';

/** Where a master set's master is, as the sentinels said. */
export interface MasterAddress {
  host: string;
  port: number;
  /**
   * With `withReplicas`: how many replicas that sentinel lists for the master and does not take as down
   * (`s_down`, `o_down`, or no link to it). Any of them may be promoted in a failover, so a write counts
   * only once each has it (SPEC §6.6).
   */
  replicas?: number;
}

/**
 * No sentinel could name the master: none answered, or every one that answered knows no master set
 * of that name, or refused our credentials. The message says which, naming the sentinels.
 */
export class SentinelLookupError extends Error {
  constructor(
    message: string,
    /** Every sentinel that answered refused the credentials: trying again cannot help. */
    readonly credentialsRefused = false,
  ) {
    super(message);
    this.name = 'SentinelLookupError';
  }
}

/**
 * Asks the sentinels, in the URL's order, for the current address of the master set
 * (`SENTINEL get-master-addr-by-name`); the first that names one wins. A sentinel that is down, or
 * knows no such master set, is skipped. The address is only a claim: right after a failover a
 * sentinel may still name the old master, so the caller checks ROLE on the server before using it.
 */
export async function resolveMaster(
  spec: SentinelSpec,
  network: NetworkOptions,
  withReplicas = false,
): Promise<MasterAddress> {
  const problems: string[] = [];
  let unknownName = 0;
  let refused = 0;
  for (const node of spec.nodes) {
    const where = `${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port}`;
    const ask: Command[] = [];
    if (spec.password !== undefined)
      ask.push(spec.username ? ['AUTH', spec.username, spec.password] : ['AUTH', spec.password]);
    ask.push(['SENTINEL', 'get-master-addr-by-name', spec.name]);
    if (withReplicas) ask.push(['SENTINEL', 'REPLICAS', spec.name]);
    let replies: Reply[];
    try {
      const socket = await connectSocket(node.host, node.port, false, undefined, network.connectTimeoutMs);
      try {
        replies = await handshake(socket, ask, network.connectTimeoutMs);
      } finally {
        socket.destroy();
      }
    } catch (err) {
      const message = (err as Error).message.split('\n')[0]!;
      if (replyIs(err, 'auth')) refused++;
      problems.push(`${where}: ${message}`);
      continue;
    }
    const answer = replies.at(withReplicas ? -2 : -1);
    if (Array.isArray(answer) && answer.length === 2 && Buffer.isBuffer(answer[0])) {
      const address: MasterAddress = { host: answer[0].toString(), port: Number(String(answer[1])) };
      if (withReplicas) address.replicas = liveReplicas(replies.at(-1));
      return address;
    }
    unknownName++;
    problems.push(`${where}: knows no master named "${spec.name}"`);
  }
  const list = spec.nodes.map((n) => `${n.host}:${n.port}`).join(', ');
  if (refused > 0 && unknownName === 0) {
    throw new SentinelLookupError(
      `the sentinels (${list}) refused the credentials (${problems.join('; ')}); ` +
        'give their password as ?sentinelPassword=… in the URL',
      true,
    );
  }
  if (unknownName > 0) {
    throw new SentinelLookupError(
      `no sentinel of ${list} knows a master named "${spec.name}"; check the master name ` +
        '(SENTINEL MASTERS on a sentinel lists them)',
    );
  }
  throw new SentinelLookupError(
    `cannot reach any sentinel of ${list} (${problems.join('; ')}); check the hosts and ports`,
  );
}

/**
 * The replicas in a `SENTINEL REPLICAS` reply (one flat field/value list each) whose flags say neither
 * down nor disconnected. A replica promoted a moment ago is still listed under its old master until the
 * sentinels switch: counting it is what keeps the old master from confirming writes it alone took.
 */
function liveReplicas(reply: Reply | undefined): number {
  if (!Array.isArray(reply)) return 0;
  return reply.filter((entry) => {
    if (!Array.isArray(entry)) return false;
    const at = entry.findIndex((field) => Buffer.isBuffer(field) && field.toString() === 'flags');
    const flags = String(entry[at + 1] ?? '').split(',');
    return at >= 0 && !flags.some((f) => f === 's_down' || f === 'o_down' || f === 'disconnected');
  }).length;
}

/**
 * From an `INFO replication` text: the master's replication offset and, for each replica, the offset
 * it last acknowledged (replicas acknowledge about once a second).
 */
export function replicationOffsets(info: string): { master: number; replicas: number[] } {
  const master = Number(/^master_repl_offset:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
  const replicas = [...info.matchAll(/^slave\d+:.*\boffset=(\d+)/gm)].map((m) => Number(m[1]));
  return { master, replicas };
}
