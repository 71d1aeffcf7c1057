import type { RedisEndpoint } from '../../common/endpoint.js';
import { replyIs } from '../errors/classify.js';
import { RepliesLostError, RespPipe, ServerLostError } from '../pipe.js';
import type { Command, Reply } from '../resp.js';
import { replicasCaughtUp } from '../role.js';
import type { NetworkOptions } from '../socket.js';
import type { ServerAt, Transport } from '../transport.js';
import { ReplicaCounts } from './replica-counts.js';
import { keySlot, SLOTS } from './slot.js';
import { cut, nodeEndpoint, redirectOf } from './units.js';

/** A unit sent to this many wrong nodes in a row is given up, its last error reply kept. */
const MAX_REDIRECTS = 16;
const FIRST_BACKOFF_MS = 25;
const MAX_BACKOFF_MS = 1_000;
/**
 * How long one node's pipe tries to reconnect by itself. Short: a node killed for good never comes
 * back, and its slots are served by the replica the cluster promotes, which only a slot table refresh
 * finds. The transport's own loop (send) keeps trying, node after node, for the whole retry budget.
 * The same holds for the ioredis connection to each master (server.ts, the scanner's walks).
 */
export const NODE_RETRY_MS = 1_000;
/**
 * How long WAIT waits for a master's replicas after a write. A healthy replica acknowledges in
 * milliseconds; a timeout means a lagging or dead replica, and the node's writes of that send are
 * reported unknown (the writer checks or re-sends them).
 */
const WAIT_TIMEOUT_MS = 2_000;

/**
 * The hot path's transport to a Redis Cluster (DESIGN.md seam 3): one pipelining RespPipe per
 * master, the slot table from CLUSTER SLOTS, and for each send the list cut into units (a MULTI …
 * EXEC is one unit, any other command one unit), grouped per owning node and sent to all nodes at
 * once; the replies are put back in the order of the commands.
 *
 * Redirections (a reshard or a failover during the run, SPEC §7):
 * - MOVED: the node does not own the slot and did not run the command (inside MULTI it refuses to
 *   queue it and EXEC aborts: nothing of the unit ran). The slot table is refreshed and the unit sent
 *   to the new owner, so it is applied exactly once, whatever `resend` says.
 * - ASK: the slot is being migrated and the key is not (or no longer) on this node: the unit is sent
 *   to the importing node after ASKING, which holds for the whole MULTI … EXEC that follows it.
 * - TRYAGAIN, CLUSTERDOWN: nothing ran; the unit is sent again after a backoff, within the retry budget.
 * - A node that cannot be reached (killed, say): its pipe gives up after NODE_RETRY_MS, the slot table
 *   is asked again of the other nodes, replicas included, and the units go to whoever owns their
 *   slots then, again and again with a backoff while the cluster has not yet promoted a replica (the
 *   dead master still named, or CLUSTERDOWN), within the retry budget. Units that pipe never wrote
 *   (it failed, or was failing: a ServerLostError) are sent there whatever `resend` says; the units
 *   of a `resend: false` send that were in flight when the connection dropped have an unknown
 *   outcome (RepliesLostError), which the writer resolves on the new owner.
 *
 * Replication: a write (`resend: false`) sent to a master with replicas ends with WAIT, so that what a
 * master acknowledged is on a replica before it counts (a master killed with writes not yet sent on
 * would take them along). Units a WAIT did not confirm are reported unknown, like units whose reply a
 * drop hid, and the slot table (with each master's live replicas) is asked again. A user who may not
 * run WAIT writes on unconfirmed.
 *
 * Lost replies keep the Transport contract: the RepliesLostError carries the replies of the units
 * before the first unit whose outcome is unknown. A unit after it whose node did answer is then
 * reported unknown too (the writer checks or re-sends it, never applies it twice): the price of
 * keeping one simple contract for both transports.
 */
export class ClusterTransport implements Transport {
  private readonly owners: (string | undefined)[] = new Array(SLOTS);
  private readonly pipes = new Map<string, Promise<RespPipe>>();
  /** Every node CLUSTER SLOTS ever named, replicas too: who to ask for the table when masters die. */
  private readonly known = new Set<string>();
  /** How many replicas each master's writes must reach. */
  private readonly replicaCounts = new ReplicaCounts();
  /** The user may not run WAIT (or the server has none): writes are not confirmed on replicas. */
  private noWait = false;
  /** Each node's pipe once open: their reconnections count in `reconnects`. */
  private readonly open = new Map<string, RespPipe>();
  /** Owner changes, forgotten nodes and the reconnections of their pipes, so far. */
  private changes = 0;
  private refreshing?: Promise<void>;
  private closed = false;

  private constructor(
    private readonly seed: RedisEndpoint,
    private readonly label: string,
    private readonly net: NetworkOptions,
  ) {}

  /** Reads the slot table from the node `seed` names and connects to every master. */
  static async open(seed: RedisEndpoint, label: string, network: NetworkOptions): Promise<ClusterTransport> {
    const transport = new ClusterTransport(seed, label, network);
    try {
      await transport.loadSlots([`${seed.host}:${seed.port}`]);
      await Promise.all(transport.masters().map((addr) => transport.pipe(addr)));
    } catch (err) {
      transport.close();
      throw err;
    }
    return transport;
  }

  /** The masters that own slots now (host:port). */
  masters(): string[] {
    return [...new Set(this.owners.filter((a): a is string => a !== undefined))];
  }

  async send(commands: readonly Command[], opts: { resend?: boolean } = {}): Promise<Reply[]> {
    if (commands.length === 0) return [];
    if (this.closed) throw new Error(`connection to ${this.label} closed`);
    const units = cut(commands);
    const replies: Reply[] = new Array(commands.length);
    const unknown = new Set<number>();
    let lostWhy: Error | undefined;
    let pending = units.map((_, i) => i);
    let backoff = FIRST_BACKOFF_MS;
    const started = Date.now();
    while (pending.length > 0) {
      const byNode = new Map<string, number[]>();
      const next: number[] = [];
      let stale = false;
      let wait = false;
      for (const i of pending) {
        const unit = units[i]!;
        // A slot without a master (between a master's failure and its replica's promotion) goes to
        // any master, which answers CLUSTERDOWN or MOVED; with no master known, it waits a round.
        const addr = unit.ask ?? this.owners[unit.slot] ?? this.masters()[0];
        if (addr === undefined) {
          next.push(i);
          stale = wait = true;
          continue;
        }
        const ids = byNode.get(addr) ?? [];
        ids.push(i);
        byNode.set(addr, ids);
      }
      await Promise.all(
        [...byNode].map(async ([addr, ids]) => {
          const list: Command[] = [];
          const at: number[] = [];
          for (const i of ids) {
            const unit = units[i]!;
            if (unit.ask) list.push(['ASKING']);
            at.push(list.length);
            for (let c = unit.start; c < unit.end; c++) list.push(commands[c]!);
          }
          // Writes (resend: false) end with WAIT on a master with replicas: replication is
          // asynchronous, and what a master acknowledged but no replica received is lost when the
          // master dies and a replica is promoted.
          const replicas = opts.resend === false && !this.noWait ? await this.replicasOf(addr) : 0;
          if (replicas > 0) list.push(['WAIT', replicas, WAIT_TIMEOUT_MS]);
          let got: Reply[];
          try {
            got = await (await this.pipe(addr)).send(list, opts);
          } catch (err) {
            if (this.closed) throw err;
            stale = true;
            if (err instanceof RepliesLostError) {
              lostWhy ??= err;
              got = err.replies;
            } else if (
              (opts.resend === false && !(err instanceof ServerLostError)) ||
              Date.now() - started > this.net.retryBudgetMs
            ) {
              // A node that cannot be reached: was anything of this send applied there? Unknown.
              lostWhy ??= err instanceof Error ? err : new Error(String(err));
              this.forget(addr);
              got = [];
            } else {
              // Re-sendable, or never written (the pipe had given up): after the refresh it goes to
              // whichever node owns the slots now.
              lostWhy = err instanceof Error ? err : lostWhy;
              this.forget(addr);
              next.push(...ids);
              wait = true;
              return;
            }
          }
          const confirmed = replicas === 0 || this.waited(got, list.length, replicas);
          // An unconfirmed WAIT: the replica count may have changed (a replica failed); ask again.
          if (!confirmed) {
            stale = true;
            lostWhy ??= new Error(
              `${this.label}: writes on ${addr} were not confirmed on its ${replicas} replica(s) within ` +
                `${WAIT_TIMEOUT_MS / 1000}s (WAIT)`,
            );
          }
          ids.forEach((i, n) => {
            const unit = units[i]!;
            const from = at[n]!;
            const count = unit.end - unit.start;
            if (from + count > got.length) {
              unknown.add(i);
              return;
            }
            const mine = got.slice(from, from + count);
            const redirect = unit.redirects < MAX_REDIRECTS ? redirectOf(mine) : undefined;
            unit.ask = undefined;
            if (!redirect && !confirmed) {
              // Applied on the master, not known to be on a replica: the writer checks or re-sends it.
              unknown.add(i);
              return;
            }
            if (!redirect) {
              for (let c = 0; c < count; c++) replies[unit.start + c] = mine[c]!;
              return;
            }
            unit.redirects++;
            next.push(i);
            if (redirect.kind === 'MOVED') {
              if (this.owners[redirect.slot] !== redirect.addr) this.changes++;
              this.owners[redirect.slot] = redirect.addr;
              unit.slot = redirect.slot;
              stale = true;
            } else if (redirect.kind === 'ASK') unit.ask = redirect.addr;
            else wait = true;
          });
        }),
      );
      if (wait) {
        if (Date.now() - started + backoff > this.net.retryBudgetMs) {
          const why = lostWhy && !(lostWhy instanceof RepliesLostError) ? ` (${lostWhy.message})` : '';
          throw new ServerLostError(
            `${this.label}: the cluster stayed unavailable (TRYAGAIN, CLUSTERDOWN or an unreachable master${why}) ` +
              `for ${Math.round((Date.now() - started) / 1000)}s; check CLUSTER INFO on its nodes, then run again`,
          );
        }
        await sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
      // A refresh that finds no node to answer is retried on the next round, within the budget.
      if (stale)
        await this.refresh().catch((err: Error) => {
          if (Date.now() - started > this.net.retryBudgetMs) throw err;
        });
      pending = next.sort((a, b) => a - b);
    }
    if (unknown.size > 0) {
      // A re-sendable send has no outcome to resolve: the node's own error says what happened.
      if (opts.resend !== false && lostWhy && !(lostWhy instanceof RepliesLostError)) throw lostWhy;
      const first = Math.min(...unknown);
      throw new RepliesLostError(
        lostWhy?.message ?? `lost replies from ${this.label}`,
        replies.slice(0, units[first]!.start),
      );
    }
    return replies;
  }

  /**
   * Grows with every change that could put a reply on another server than an earlier one: a slot owner
   * changed, a node forgotten, a node's connection re-established. Two replies read with the same
   * count came from the same servers' same connections.
   */
  get reconnects(): number {
    let sum = this.changes;
    for (const pipe of this.open.values()) sum += pipe.reconnects;
    return sum;
  }

  async replicatedKeys(keys: readonly Buffer[], epoch: number | undefined): Promise<boolean> {
    if (this.noWait) return this.reconnects === epoch;
    const masters = new Set<string>();
    for (const key of keys) {
      const owner = this.owners[keySlot(key)];
      if (owner === undefined) return false;
      masters.add(owner);
    }
    const deadline = Date.now() + WAIT_TIMEOUT_MS;
    for (const addr of masters) {
      const wanted = await this.replicasOf(addr);
      for (;;) {
        const [role] = await (await this.pipe(addr)).send([['ROLE']]);
        const acked = replicasCaughtUp(role);
        if (this.reconnects !== epoch || acked === undefined) return false;
        if (acked >= wanted) break;
        if (Date.now() >= deadline) return false;
        await sleep(100);
      }
    }
    return true;
  }

  private replicasOf(addr: string): Promise<number> {
    return this.replicaCounts.of(addr, (a) => this.pipe(a));
  }

  /** Whether the WAIT that ends a node's list says `replicas` replicas have everything before it. */
  private waited(got: Reply[], length: number, replicas: number): boolean {
    if (got.length < length) return false;
    const acked = got[length - 1];
    if (replyIs(acked, 'noperm', 'unknown-command')) {
      // WAIT is not allowed to this user: writes go on unconfirmed, as on a cluster without replicas.
      this.noWait = true;
      return true;
    }
    return typeof acked === 'number' && acked >= replicas;
  }

  /** The master of `key`'s slot as the slot table says now. */
  serverOf(key: Buffer): ServerAt | undefined {
    const owner = this.owners[keySlot(key)];
    return owner === undefined ? undefined : { endpoint: this.nodeEndpoint(owner), network: this.net };
  }

  close(): void {
    this.closed = true;
    for (const pipe of this.pipes.values()) pipe.then((p) => p.close()).catch(() => undefined);
    this.pipes.clear();
    this.open.clear();
  }

  /** The pipe to a node, opened on first use. */
  private pipe(addr: string): Promise<RespPipe> {
    let pipe = this.pipes.get(addr);
    if (!pipe) {
      const net = { ...this.net, retryBudgetMs: Math.min(this.net.retryBudgetMs, NODE_RETRY_MS) };
      pipe = RespPipe.open(this.nodeEndpoint(addr), `${this.label} node`, net);
      this.pipes.set(addr, pipe);
      pipe.then(
        (opened) => this.pipes.get(addr) === pipe && this.open.set(addr, opened),
        () => this.pipes.get(addr) === pipe && this.pipes.delete(addr),
      );
    }
    return pipe;
  }

  /** A node that failed for good is dropped: a later unit for it opens a new connection. */
  private forget(addr: string): void {
    const pipe = this.pipes.get(addr);
    this.pipes.delete(addr);
    this.changes += 1 + (this.open.get(addr)?.reconnects ?? 0);
    this.open.delete(addr);
    this.replicaCounts.forget(addr);
    pipe?.then((p) => p.close()).catch(() => undefined);
  }

  /**
   * Reloads the slot table (one refresh at a time; callers during one wait for it). Nodes with an open
   * pipe are asked first (a dead one was forgotten), then every other node ever named.
   */
  private refresh(): Promise<void> {
    this.refreshing ??= this.loadSlots([...this.pipes.keys(), ...this.masters(), ...this.known]).finally(
      () => {
        this.refreshing = undefined;
      },
    );
    return this.refreshing;
  }

  /** Asks the nodes one after the other for CLUSTER SLOTS until one answers. */
  private async loadSlots(candidates: string[]): Promise<void> {
    let last: Error | undefined;
    for (const addr of new Set(candidates)) {
      try {
        const [reply] = await (await this.pipe(addr)).send([['CLUSTER', 'SLOTS']]);
        if (reply instanceof Error) throw reply;
        const host = addr.slice(0, addr.lastIndexOf(':'));
        const name = (node: Reply[]): string =>
          `${node[0] instanceof Buffer && node[0].length > 0 ? node[0].toString() : host}:${node[1]}`;
        // A slot no node claims now (its master failed, no replica promoted yet) is left unowned.
        const before = this.owners.slice();
        this.owners.fill(undefined);
        this.replicaCounts.newTable();
        for (const range of reply as Reply[][]) {
          const [from, to, master, ...replicas] = range as [number, number, Reply[], ...Reply[][]];
          const owner = name(master);
          this.replicaCounts.listedUnder(owner, replicas.length);
          for (let slot = from; slot <= to; slot++) this.owners[slot] = owner;
          for (const node of [master, ...replicas]) this.known.add(name(node));
        }
        const moved = this.owners.reduce((n, owner, slot) => (owner !== before[slot] ? n + 1 : n), 0);
        if (moved > 0) {
          this.changes++;
          // The first load (every slot unknown before) is no change to report.
          if (before.some((owner) => owner !== undefined)) {
            const detail = `${moved} slot(s) changed owner, ${new Set(this.owners.filter((o) => o !== undefined)).size} master(s) now`;
            this.net.events?.emit({ kind: 'topology', server: this.label, detail });
          }
        }
        return;
      } catch (err) {
        last = err as Error;
      }
    }
    throw last ?? new ServerLostError(`${this.label}: no cluster node to ask for the slot table`);
  }

  private nodeEndpoint(addr: string): RedisEndpoint {
    const colon = addr.lastIndexOf(':');
    return nodeEndpoint(this.seed, addr.slice(0, colon), Number(addr.slice(colon + 1)));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
