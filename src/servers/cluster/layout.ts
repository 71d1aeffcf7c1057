/**
 * A cluster's slot layout, as the scanner and the follower compare it before and after a walk: a
 * reshard or a failover meanwhile means keys may have moved past the walk.
 */
import type { Redis } from 'ioredis';
import { RunError } from '../../common/errors.js';
import { replyIs } from '../errors/classify.js';

/** A cluster as the scanner sees it (scan/scanner.ts): its slot layout, and its masters made current. */
export interface ClusterView {
  /** The layout now as one string; undefined while it is in flux (see clusterLayout). */
  layout(): Promise<string | undefined>;
  /**
   * The masters made current (a promoted replica, a master added by a reshard) once the layout is out
   * of flux; a RunError naming the slots still moving when it stays in flux for the retry budget.
   */
  settle(): Promise<void>;
}

/** What every master says: the owners as one string, and the slots it marks as moving. */
interface MasterView {
  owners: string;
  moving: string[];
}

/** A slot being migrated, as CLUSTER NODES shows it on the two masters involved: `[slot->-id]`, `[slot-<-id]`. */
const MOVING_SLOT = /\[(\d+)-[<>]-/g;

/**
 * One master's view. CLUSTER NODES is asked before CLUSTER SLOTS, never after: a move ends on each of
 * its two masters with one step (SETSLOT NODE) that clears the slot's mark and names the new owner at
 * once. Asked in the other order, that step could fall between the two answers, and the master would
 * show the old owner and no mark while the slot's keys had already left it; a walk that missed them
 * would then find the layout unchanged (seen: 114 of 2,020 keys taken, the run `done`). In this order
 * a master shows the mark, or the new owner, or neither because the move had not begun on it.
 */
async function masterView(node: Redis): Promise<MasterView> {
  // CLUSTER NODES may be denied to the user; the owners then still tell a finished move.
  const nodesText = (await clusterNodes(node)) ?? '';
  const slots = (await node.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string?]][];
  // Owners by node id: masters may name one another's address differently (an announced address, a
  // hostname, an empty ip for itself), never its id.
  const owners = slots
    .map(([from, to, [ip, port, id]]) => `${from}-${to}@${id ?? `${ip}:${port}`}`)
    .sort()
    .join(',');
  return { owners, moving: [...nodesText.matchAll(MOVING_SLOT)].map((m) => m[1]!) };
}

/**
 * Whether every master lets this user ask CLUSTER NODES, the only answer that marks a slot being
 * migrated. Without it a move still under way when a walk ends looks like no move (the owners change
 * only at its end), and keys it took from the part of a master not yet walked would be missed.
 */
export async function movesVisible(nodes: readonly Redis[]): Promise<boolean> {
  const answers = await Promise.all(nodes.map(clusterNodes));
  return answers.every((text) => text !== undefined);
}

/**
 * CLUSTER NODES as text; undefined where the user may not ask it (NOPERM). Any other failure is thrown:
 * a master that does not answer is in flux (masterViews), not a master without moves.
 */
async function clusterNodes(node: Redis): Promise<string | undefined> {
  try {
    return String(await node.call('CLUSTER', 'NODES'));
  } catch (err) {
    if (replyIs(err, 'noperm')) return undefined;
    throw err;
  }
}

/** The warning for a cluster source whose moves are hidden from its user (movesVisible). */
export const MOVES_HIDDEN =
  "CLUSTER NODES is denied to this user, so a slot still being migrated when the walk of the cluster's " +
  'keys ends cannot be seen and keys it moved could be missed; allow the user +cluster|nodes, or do not ' +
  'reshard the cluster during the run';

/** Every master's view; a master that does not answer counts as in flux, unless none answers. */
async function masterViews(nodes: readonly Redis[]): Promise<(MasterView | undefined)[]> {
  const views = await Promise.allSettled(nodes.map(masterView));
  if (views.every((v) => v.status === 'rejected')) throw (views[0] as PromiseRejectedResult).reason;
  return views.map((v) => (v.status === 'fulfilled' ? v.value : undefined));
}

/**
 * The slot layout of a cluster as one string (which master owns which slots), to tell whether it
 * changed between two moments; undefined while it is in flux. Every master is asked, since one alone
 * can miss a reshard under way: only the two masters a slot moves between mark it (CLUSTER NODES), and
 * the others learn the new owner last. In flux: a slot marked as moving, masters that disagree on the
 * owners (the new owner not yet told to all), or a master that does not answer.
 */
export async function clusterLayout(nodes: readonly Redis[]): Promise<string | undefined> {
  return settledOwners(await masterViews(nodes));
}

/** The owners all masters agree on with no slot moving; undefined otherwise. */
function settledOwners(views: readonly (MasterView | undefined)[]): string | undefined {
  const first = views[0];
  if (!first) return undefined;
  const settled = views.every((v) => v !== undefined && v.moving.length === 0 && v.owners === first.owners);
  return settled ? first.owners : undefined;
}

/** Polling interval while a cluster's layout is in flux. */
const SETTLE_POLL_MS = 250;

/**
 * ClusterView.settle: `refresh` (the masters of now), then the layout asked again, until it is out of
 * flux or `budgetMs` has passed. A reshard left half done (a slot still marked migrating) ends the run
 * rather than let a walk miss keys moving under it; the message names the slots. A RunError (exit 1),
 * as the sources merged before this one may have been written.
 */
export async function settleLayout(
  nodes: readonly Redis[],
  refresh: () => Promise<void>,
  where: string,
  budgetMs: number,
): Promise<void> {
  const started = Date.now();
  for (;;) {
    await refresh();
    const views = await masterViews(nodes);
    if (settledOwners(views) !== undefined) return;
    const moving = new Set(views.flatMap((v) => v?.moving ?? []));
    if (Date.now() - started + SETTLE_POLL_MS > budgetMs) {
      const what =
        moving.size > 0
          ? `slot ${[...moving].sort((a, b) => Number(a) - Number(b)).join(', ')} still being migrated`
          : 'its masters not all answering, or disagreeing on which owns which slots';
      throw new RunError(
        `${where}: the cluster's slots did not settle within ${Math.round(budgetMs / 1000)}s (${what}), ` +
          'and a walk of its keys while they move can miss some; finish the reshard (redis-cli --cluster ' +
          'fix for a slot left migrating) and run again, or raise --retry-budget',
      );
    }
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
  }
}
