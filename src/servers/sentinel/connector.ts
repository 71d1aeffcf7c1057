import type { SentinelSpec } from '../../common/endpoint.js';
import type { Address, Connector, PipeHandle } from '../connector.js';
import { classifyReply } from '../errors/classify.js';
import type { Command, Reply } from '../resp.js';
import { replicasFromRole } from '../role.js';
import type { NetworkOptions } from '../socket.js';
import type { FailoverWatch } from '../transport.js';
import { resolveMaster, SentinelLookupError } from './lookup.js';

const WAIT_TIMEOUT_MS = 2_000;

/** A sentinel's claim of where the master is, with the live replicas it lists for it. */
type Claim = Address & { replicas?: number };

/**
 * A pipe's connector behind Sentinel (SPEC §6.6). At every connection the master's address is asked of
 * the sentinels (so a reconnect follows a failover), and ROLE must say `master`: a demoted master goes
 * on accepting connections, and what is written there is lost once it resynchronises from the new one.
 * It also keeps the count of replicas a write must reach before it counts (`replicas`), which the writer
 * reads through the transport's `failover`.
 */
export class SentinelConnector implements Connector, FailoverWatch {
  readonly vetting: readonly Command[] = [['ROLE']];
  /** The replicas a write must reach (WAIT) on the master of the current connection. */
  replicas = 0;
  /** The most replicas ROLE has listed for each master (host:port) this pipe reached. */
  private readonly replicasSeen = new Map<string, number>();
  /** When ROLE was last asked for the replicas (refreshReplicas). */
  private replicasCheckedAt = 0;
  /** The address `locate` gave last, with the replicas the sentinels listed for it. */
  private claim?: Claim;

  constructor(
    private readonly spec: SentinelSpec,
    private readonly net: NetworkOptions,
    private readonly pipe: PipeHandle,
  ) {}

  /** The lookup also counts the replicas the sentinels list for that master (see replicasToConfirm). */
  async locate(): Promise<Address> {
    const claim = await resolveMaster(this.spec, this.net, true);
    this.claim = claim;
    return claim;
  }

  vet(address: Address, [role]: Reply[]): void {
    const replicas = replicasFromRole(role, `${address.host}:${address.port}`);
    if (replicas instanceof Error) throw replicas;
    const listed = this.claim === address ? this.claim.replicas : undefined;
    this.replicas = this.replicasToConfirm(address, replicas ?? 0, listed);
  }

  /** READONLY: the master was demoted under us, and what follows on this connection is refused too. */
  leaves(reply: Error): boolean {
    return classifyReply(reply) === 'readonly';
  }

  hopeless(err: Error): boolean {
    return err instanceof SentinelLookupError && err.credentialsRefused;
  }

  /**
   * How long a WAIT may block on this connection (after each write pipeline): replicas on a healthy link
   * acknowledge in milliseconds, and it must stay well inside the reply timeout, which takes a longer
   * silence for a dead server. Never 0, which would make WAIT block for ever.
   */
  get waitTimeoutMs(): number {
    return Math.max(1, Math.min(WAIT_TIMEOUT_MS, Math.floor(this.net.commandTimeoutMs / 2)));
  }

  /**
   * At most once a second: asks ROLE again and raises `replicas` when the master has more now (a new
   * master has none at first; the old one rejoins it as a replica seconds later). It is never lowered on
   * the same connection: a master that just lost its replica to a promotion must not go on taking writes
   * unconfirmed. A reconnect counts afresh.
   */
  async refreshReplicas(): Promise<void> {
    if (Date.now() - this.replicasCheckedAt < 1_000) return;
    this.replicasCheckedAt = Date.now();
    const pipe = this.pipe;
    const at = pipe.address;
    const [role] = await pipe.send([['ROLE']]);
    const listed = replicasFromRole(role, pipe.label);
    if (typeof listed !== 'number' || !at || at !== pipe.address) return;
    const named = await resolveMaster(this.spec, this.net, true).catch(() => undefined);
    if (at !== pipe.address) return;
    if (named && (named.host !== at.host || named.port !== at.port)) {
      // The sentinels switched: what waits goes to the new master.
      pipe.leave(`the sentinels now name ${named.host}:${named.port} as the master`);
      return;
    }
    // A failed lookup lowers nothing: the count stays what it was.
    this.replicas = this.replicasToConfirm(at, listed, named?.replicas ?? this.replicas);
  }

  /**
   * When the sentinels now name another master than the one the connection reaches, drops the
   * connection, so that what is waiting goes to the new master. Called when a write was not confirmed: a
   * demoted master keeps its clients (and accepts their writes) until the sentinels reconfigure it,
   * seconds after the switch. A lookup that fails changes nothing.
   */
  async followMaster(): Promise<void> {
    if (!this.pipe.connected) return;
    let master: Address;
    try {
      master = await resolveMaster(this.spec, this.net);
    } catch {
      return;
    }
    const at = this.pipe.address;
    if (this.pipe.connected && at && (master.host !== at.host || master.port !== at.port)) {
      this.pipe.leave(`the sentinels now name ${master.host}:${master.port} as the master`);
    }
  }

  /**
   * How many replicas must acknowledge a write on this master before it counts (SPEC §6.6): as many as
   * it has ever been seen with on this pipe (ROLE), and as many as the sentinels list for it and do not
   * take as down. A replica promoted a moment ago has left its old master's ROLE, but the sentinels list
   * it under the old master until they switch: so the old master, which goes on taking writes until it
   * is demoted (and then drops them in its resynchronisation), confirms none of them. A replica the
   * sentinels take as down stops counting (a dead old master never comes back to confirm), but not below
   * what this master had: one that loses its replicas confirms nothing until they are back.
   */
  private replicasToConfirm(at: Address, listed: number, sentinels?: number): number {
    const key = `${at.host}:${at.port}`;
    const seen = Math.max(this.replicasSeen.get(key) ?? 0, listed);
    this.replicasSeen.set(key, seen);
    return Math.max(seen, sentinels ?? 0);
  }
}
