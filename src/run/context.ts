import type { Redis } from 'ioredis';
import type { MergePlan, SourcePlan } from '../config/plan.js';
import type { Backup } from '../journal/backup.js';
import type { HolderView } from '../probe/probe.js';
import type { RunEvents } from '../report/events.js';
import type { Tally } from '../report/tally.js';
import type { Caps } from '../servers/caps.js';
import type { TargetClock } from '../servers/clock.js';
import type { ClusterView } from '../servers/cluster/layout.js';
import type { RespPipe } from '../servers/pipe.js';
import type { Control } from '../servers/server.js';
import type { Transport } from '../servers/transport.js';
import type { SourceReader } from '../sources/source.js';
import type { ByteBudget } from '../write/budget.js';
import type { TempKeys } from '../write/temp-keys.js';
import type { RunState, SourceReads } from './state.js';
import type { Throttle } from './throttle.js';

/** What every batch of a run shares: the plan and the target's connections, fixed; `state`, changing. */
export interface RunContext {
  plan: MergePlan;
  /** Control connection to the target (big keys): a Redis, or a Cluster routing by slot. */
  target: Control;
  /** The hot path's connection to the target (probe, writes): a pipe, or one per master of a cluster. */
  targetPipe: Transport;
  /** What the target can do (DESIGN.md seam 1). */
  targetCaps: Caps;
  /**
   * Opens another connection to the target (a big key built in one transaction needs its own); it
   * is never re-established after a drop.
   */
  openTarget(): Promise<RespPipe>;
  clock: TargetClock;
  /** Bytes of values in memory at once, across batches (SPEC §2.2). */
  budget: ByteBudget;
  temp: TempKeys;
  /** The backup journal (SPEC §6.2): the writer journals through its door before each change. */
  backup?: Backup;
  tally: Tally;
  state: RunState;
  /** --rate and --max-source-latency (SPEC §9.5), for every batch read from a source. */
  throttle?: Throttle;
  log(line: string): void;
  /** The run's event channel: what happens (a fallback, a reconnect) is said there as it happens. */
  events: RunEvents;
}

/** One source being merged. */
export interface SourceRun {
  index: number;
  plan: SourcePlan;
  /** Control connection (big keys): a Redis, or a Cluster routing by slot; none for an RDB file. */
  redis?: Control;
  /** What the run reads from it: a server's reads, or an RDB file's (SPEC §10: `nodes` empty, `pipe` unused). */
  reader: SourceReader;
  /** One connection per master (standalone: `redis`): each is scanned. */
  nodes: Redis[];
  /** A cluster source: its layout and masters, for the scanner (reshards, failovers, new masters). */
  cluster?: ClusterView;
  /** The hot path's connection to this source (probe, value reads). */
  pipe: Transport;
  /** What the source can do (DESIGN.md seam 1). */
  caps: Caps;
  /** How its values are read, as the run learns it (the run state's entry for this source). */
  reads: SourceReads;
  /** The sources before this one, to predict the fold and count overlaps. */
  earlier: HolderView[];
}

/** A source as a failed key names it. */
export const failedFrom = (src: SourceRun): { index: number; name: string } => ({
  index: src.index,
  name: src.plan.name,
});
