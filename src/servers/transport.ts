import type { RedisEndpoint } from '../common/endpoint.js';
import type { Command, Reply } from './resp.js';
import type { NetworkOptions } from './socket.js';

/**
 * The hot path's connection to one server or one whole cluster (DESIGN.md seam 3): probes, value
 * reads and writes of whole batches go through it. RespPipe (pipe.ts) is the standalone
 * implementation, ClusterTransport (cluster-transport.ts) the cluster one.
 *
 * Contract of `send`:
 * - the list is cut into units: a MULTI … EXEC is one unit, any other command is one unit; every
 *   command names its key at argv[1] (argv[2] after a subcommand: MEMORY USAGE, XINFO, XGROUP,
 *   OBJECT), and the commands of one unit share a hash slot;
 * - replies come back in the order of the commands (error replies as Error values);
 * - `resend: true` (the default): after a dropped connection the commands are sent again (reads,
 *   idempotent writes);
 * - `resend: false`: a drop before every reply came rejects with a RepliesLostError whose `replies`
 *   are a prefix of the replies: every unit wholly inside the prefix has its outcome there; every
 *   unit after it may or may not have been applied (write/writer.ts resolves them, SPEC §1.6).
 * A standalone RespPipe also carries commands with no key at argv[1]: the batch scripts' EVALs
 * (servers/batch-scripts.ts), which are never sent to a cluster.
 */
export interface Transport {
  send(commands: readonly Command[], opts?: { resend?: boolean }): Promise<Reply[]>;
  close(): void;
  /** Times the connection was re-established: two replies with the same count came over one connection. */
  readonly reconnects?: number;
  /** Behind Sentinel (sentinel/connector.ts): what a write must reach to survive a failover; undefined elsewhere. */
  readonly failover?: FailoverWatch;
  /**
   * On a cluster: whether what the masters of these keys hold now is on their replicas (ROLE offsets),
   * for steps a check found applied after an unconfirmed WAIT (a check is not a write, so a WAIT after
   * it would confirm nothing). False when the layout or a connection changed since `epoch` (the
   * `reconnects` read with the check's reply), or the replicas do not catch up within WAIT's timeout.
   */
  replicatedKeys?(keys: readonly Buffer[], epoch: number | undefined): Promise<boolean>;
  /**
   * The server that holds `key` now, for a connection of one's own that streams a big value through
   * (write/stream-copy.ts): behind Sentinel the master of the current connection, on a cluster the
   * master of the key's slot, with the session the URL asks for. Undefined while none is known.
   */
  serverOf?(key: Buffer): ServerAt | undefined;
}

/** A server's address with the session and network settings its connections use. */
export interface ServerAt {
  endpoint: RedisEndpoint;
  network: NetworkOptions;
}

/**
 * Behind Sentinel, a write counts as done only once it is on the master that survives a failover: the
 * writer ends its pipelines with `WAIT <replicas> <waitTimeoutMs>` (SPEC §6.6).
 */
export interface FailoverWatch {
  /** The replicas a write must reach on the master of the current connection. */
  readonly replicas: number;
  /** How long WAIT waits for the replicas after a write pipeline. */
  readonly waitTimeoutMs: number;
  /** Learns again how many replicas the master has (at most once a second). */
  refreshReplicas(): Promise<void>;
  /** Moves to the master the sentinels name now, if that is another one. */
  followMaster(): Promise<void>;
}
