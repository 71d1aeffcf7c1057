import type { Redis } from 'ioredis';
import { ConfigError } from '../common/errors.js';
import { globMatch } from '../common/glob.js';
import type { SourcePlan } from '../config/plan.js';
import { clusterLayout } from '../servers/cluster/layout.js';
import {
  type ChangeMarks,
  changeMarks,
  checkKeyEventConfig,
  type KeyEvents,
  subscribeKeyEvents,
} from '../servers/key-events.js';
import type { Server } from '../servers/server.js';

/**
 * Where the changes of the sources come from during a follow (SPEC §9.2, §9.3): keyspace notifications
 * on every master of every source, opened before the snapshot starts; a watch each second for what
 * they never say (a flush, a restart, a cluster's new layout); repeated passes where a server has no
 * notifications (Pika). A change is a target key; anything that may have hidden changes is a gap of
 * its source, which the follow answers with a reconciliation pass over that source.
 */

export interface FeedEvents {
  /** The target key of a change on source `source` (its prefix added; keys its match rules out never come). */
  changed(source: number, key: Buffer): void;
  /** Changes of `source` may have been missed, or must be looked for (a Pika pass): why, in words. */
  gap(source: number, reason: string): void;
}

export interface FeedSource {
  plan: SourcePlan;
  server: Server;
}

export interface FeedOptions {
  /** --set-notify-config: set notify-keyspace-events where it lacks what the feed needs. */
  setNotifyConfig: boolean;
  /** --follow-interval: between two passes over a source without notifications. */
  intervalMs: number;
  log: (line: string) => void;
}

/** How often the watch asks each master for its flush counts and run_id, and a cluster for its layout. */
const WATCH_MS = 1_000;

/** One subscribed master and what the watch last saw of it. */
interface Watched {
  node: Redis;
  events: KeyEvents;
  marks?: ChangeMarks;
}

export class ChangeFeed {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly watched = new Map<number, Watched[]>();
  private closed = false;

  private constructor(
    private readonly sources: FeedSource[],
    private readonly events: FeedEvents,
    private readonly opts: FeedOptions,
  ) {}

  /**
   * Checks every master's notify-keyspace-events (exit 2 with the line to run, unless
   * `setNotifyConfig`), then subscribes to all of them: resolves once every subscription is live.
   */
  static async open(sources: FeedSource[], events: FeedEvents, opts: FeedOptions): Promise<ChangeFeed> {
    const feed = new ChangeFeed(sources, events, opts);
    try {
      for (const [index, source] of sources.entries()) await feed.start(index, source);
    } catch (err) {
      feed.close();
      throw err;
    }
    return feed;
  }

  private async start(index: number, { plan, server }: FeedSource): Promise<void> {
    if (server.caps.kind === 'pika') {
      this.opts.log(
        `source ${plan.name}: Pika has no keyspace notifications; followed by a pass every ${this.opts.intervalMs / 1000} s (--follow-interval)`,
      );
      this.every(this.opts.intervalMs, async () =>
        this.events.gap(index, `a pass every ${this.opts.intervalMs / 1000} s (Pika has no notifications)`),
      );
      return;
    }
    // A cluster's layout is read first, then its masters made current (the run connected to the masters
    // of a moment ago: one added since would go unheard): a change after the read shows at the next watch.
    let layout = server.caps.cluster ? await clusterLayout(server.nodes).catch(() => undefined) : undefined;
    if (server.caps.cluster) await server.refreshMasters?.();
    for (const node of server.nodes) await this.checkConfig(plan, node);
    this.watched.set(index, await Promise.all(server.nodes.map((node) => this.subscribe(index, node))));
    this.every(WATCH_MS, async () => {
      if (server.caps.cluster && server.refreshMasters) {
        const now = await clusterLayout(server.nodes).catch(() => layout);
        if (now !== layout) {
          layout = now;
          await server.refreshMasters();
          await this.resubscribe(index, server);
          this.events.gap(index, 'the cluster changed its layout (a reshard or a failover)');
          return;
        }
      }
      for (const watched of this.watched.get(index) ?? []) await this.watch(index, watched);
    });
  }

  private async checkConfig(plan: SourcePlan, node: Redis): Promise<void> {
    let line: string | undefined;
    try {
      line = await checkKeyEventConfig(node, this.opts.setNotifyConfig);
    } catch (err) {
      throw new ConfigError(
        '--follow',
        `source ${plan.name}: cannot read or set notify-keyspace-events (${(err as Error).message}); ` +
          'grant the user CONFIG GET (and CONFIG SET for --set-notify-config), or set it on the server',
      );
    }
    if (line !== undefined) {
      const where = `${node.options.host}:${node.options.port}`;
      throw new ConfigError(
        '--follow',
        `source ${plan.name} (${where}) does not publish the keyspace notifications a follow needs; ` +
          `run \`${line}\` there, or pass --set-notify-config`,
      );
    }
  }

  private async subscribe(index: number, node: Redis): Promise<Watched> {
    const { plan, server } = this.sources[index]!;
    const match = plan.match === undefined ? undefined : Buffer.from(plan.match);
    const events = await subscribeKeyEvents(node, server.endpoint.db, {
      changed: (key) => {
        if (match && !globMatch(match, key)) return;
        this.events.changed(index, plan.prefix.length > 0 ? Buffer.concat([plan.prefix, key]) : key);
      },
      gap: (reason) => this.events.gap(index, reason),
    });
    return { node, events, marks: await changeMarks(node).catch(() => undefined) };
  }

  /** A cluster's masters changed: subscriptions to the masters of now, none to former ones. */
  private async resubscribe(index: number, server: Server): Promise<void> {
    const before = this.watched.get(index) ?? [];
    const kept = before.filter((w) => server.nodes.includes(w.node));
    for (const w of before) if (!kept.includes(w)) w.events.close();
    const added = server.nodes.filter((node) => !kept.some((w) => w.node === node));
    const plan = this.sources[index]!.plan;
    for (const node of added) await this.checkConfig(plan, node);
    this.watched.set(index, [
      ...kept,
      ...(await Promise.all(added.map((node) => this.subscribe(index, node)))),
    ]);
  }

  /** A flush or a restart since the last look at this master is a gap (neither is announced). */
  private async watch(index: number, w: Watched): Promise<void> {
    const now = await changeMarks(w.node).catch(() => undefined);
    if (!now) return;
    const was = w.marks;
    w.marks = now;
    if (!was) return;
    if (now.runId !== was.runId) this.events.gap(index, 'the source restarted (its run_id changed)');
    else if (now.flushes !== was.flushes)
      this.events.gap(index, 'the source was flushed (FLUSHDB or FLUSHALL)');
  }

  /** Runs `task` every `ms` (not overlapping itself) until the feed is closed. */
  private every(ms: number, task: () => Promise<void>): void {
    const tick = (): void => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void task()
          .catch(() => undefined)
          .finally(() => {
            if (!this.closed) tick();
          });
      }, ms);
      timer.unref();
      this.timers.add(timer);
    };
    tick();
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const list of this.watched.values()) for (const w of list) w.events.close();
    this.watched.clear();
  }
}
