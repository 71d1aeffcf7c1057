import type { Socket } from 'node:net';
import type { MergePlan, TlsPlan } from '../config/plan.js';
import { ConnectionError, KvmergeError, RunError } from '../errors.js';
import { Backup, chooseJournal, prepareBackup, type ResumeState } from '../journal/backup.js';
import { lockJournal } from '../journal/lock.js';
import { checkJournalRoom, repeatsDouble } from '../journal/state-dir.js';
import { AbsenceGuess } from '../probe/absence.js';
import type { Unit } from '../probe/probe.js';
import type { Caps } from '../redis/capabilities.js';
import { checkPermissions } from '../redis/permissions.js';
import { type NetworkOptions, RespPipe } from '../redis/pipe.js';
import {
  closeServer,
  clusterView,
  openServer,
  openTransport,
  type Server,
  serverClock,
  serverKeyspace,
} from '../redis/server.js';
import { explainTls, tlsOptions } from '../redis/tls.js';
import type { Transport } from '../redis/transport.js';
import { parseRedisUrl, redactUrl } from '../redis/url.js';
import { FailedKeysFile } from '../report/failed-keys.js';
import { buildReport } from '../report/json.js';
import { Tally } from '../report/tally.js';
import type { JsonReport, ProgressSink, RunOutcome } from '../report/types.js';
import { scanBatches } from '../scan/scanner.js';
import { SeenKeys } from '../scan/seen-keys.js';
import { sourceKeyOf } from '../scan/source-key.js';
import { toolVersion } from '../version.js';
import { ByteBudget } from '../write/budget.js';
import { TempKeys } from '../write/temp-keys.js';
import { now } from '../write/ttl.js';
import { describeKey, processBatch, type RunContext, type SourceRun } from './batch.js';

export interface RunHooks {
  /** Receives progress; the CLI renders it. */
  progress?: ProgressSink;
  /** Aborting stops scanning; in-flight batches settle and the report says `interrupted`. */
  signal?: AbortSignal;
  /** Informational lines (fallbacks, warnings), meant for stderr. */
  log?: (line: string) => void;
}

interface Connected {
  target: Server;
  targetInfo: Caps;
  sources: Server[];
  sourceInfos: Caps[];
  targetPipe: Transport;
  sourcePipes: Transport[];
}

/** The key set allocated up front: 8 bytes a slot, at most 2^24 slots (128 MiB, for 12M keys); past it, it grows. */
const MIN_SEEN = 1 << 14;
const MAX_SEEN_PRESIZE = 1 << 24;

/** Values in memory at once, as a multiple of the big-key threshold (values below it are read whole). */
const BUDGET_BIG_KEYS = 2;

/**
 * Runs the merge of SPEC §1: every source in declared order, into the target.
 * Throws a KvmergeError (exit 2) for what is found before any write: unreachable servers,
 * failed authentication, a source that is the target. Otherwise resolves to the report,
 * whose `outcome` says whether the run finished, failed part-way or was interrupted.
 */
export async function runMerge(given: MergePlan, hooks: RunHooks = {}): Promise<JsonReport> {
  // Which journal, if any, and whether this plan may run again (SPEC §6.2, §6.3); a dry run never journals.
  const plan = given.dryRun ? given : await chooseJournal(given, new Date());
  // One process at a time on a journal (lock.ts): two would apply the same steps twice.
  const lock =
    plan.safety.backup !== undefined && !plan.dryRun ? await lockJournal(plan.safety.backup) : undefined;
  try {
    return await mergeRun(plan, hooks);
  } finally {
    await lock?.release();
  }
}

async function mergeRun(plan: MergePlan, hooks: RunHooks): Promise<JsonReport> {
  const startedAt = new Date();
  const started = now();
  const log = hooks.log ?? (() => {});
  if (plan.safety.noBackup && !plan.dryRun) {
    const doubles = repeatsDouble(plan);
    log(
      'no journal (--no-backup): this run cannot be rolled back, and if it is cut short (a crash, kill -9) ' +
        'running it again can apply some steps twice' +
        (doubles ? ` (this plan's ${doubles} would double)` : ''),
    );
  }
  const tally = new Tally(
    plan.sources.map((s) => s.name),
    plan.report.sample,
  );
  // Created before any connection: a path that cannot be written is exit 2 before anything happens.
  const failedKeys =
    plan.safety.failedKeys === undefined ? undefined : await FailedKeysFile.create(plan.safety.failedKeys);
  let connected: Connected;
  let resumeState: ResumeState | undefined;
  try {
    // The journal's checks come before any connection (exit 2): a resumed run must be this plan's.
    resumeState = plan.dryRun ? undefined : await prepareBackup(plan);
    connected = await connectAll(plan);
  } catch (err) {
    await failedKeys?.close();
    throw err;
  }
  const { target, targetInfo, sources, sourceInfos, targetPipe, sourcePipes } = connected;
  for (const warning of targetInfo.warnings) log(`target ${redactUrl(plan.target.url)}: ${warning}`);
  for (const [i, info] of sourceInfos.entries()) {
    for (const warning of info.warnings) log(`source ${plan.sources[i]!.name}: ${warning}`);
  }

  const ctx: RunContext = {
    plan,
    target: target.control,
    targetPipe,
    tally,
    targetRestores: plan.write.mode !== 'native' && targetInfo.restore !== false,
    nativeReason:
      targetInfo.restore === false
        ? targetInfo.kind === 'pika'
          ? 'target is Pika (no RESTORE)'
          : 'target has no RESTORE'
        : undefined,
    targetCaps: targetInfo,
    // A transaction does not survive a reconnect (a new connection is not inside MULTI, and what it
    // was sent would run at once): this connection is never re-established, a drop fails the key.
    openTarget: () =>
      RespPipe.open(plan.target.url, 'target', { ...network(plan, plan.target.tls), retryBudgetMs: 0 }),
    clock: await serverClock(target),
    budget: new ByteBudget(BUDGET_BIG_KEYS * plan.write.bigKeyBytes),
    temp: new TempKeys(),
    absence: new AbsenceGuess(
      !plan.dryRun &&
        plan.strategies.typeMismatch !== 'fail' &&
        // An empty target: what it comes to hold during the run is what earlier sources wrote.
        (await serverKeyspace(target.nodes, targetInfo).catch(() => undefined)) === 0,
    ),
    signal: hooks.signal,
    keyFailed(src, key, type, reason, stops) {
      failedKeys?.add({ key, source: src.plan.name, type, reason });
      tally.keyFailed(key, src.index, type, reason);
      if ((stops || plan.safety.onError === 'stop') && !ctx.stopped) {
        ctx.stopped = new RunError(
          stops
            ? reason
            : `writing ${describeKey(key)} from ${src.plan.name} failed: ${reason} ` +
                '(--on-error skip goes on past such keys and lists them in --failed-keys)',
        );
      }
    },
    log,
  };

  // The journal is open (and a resume has put back what the interrupted run left unsettled) before the
  // first write; a target that refuses DUMP to the journal is exit 2 here, not a failure half-way.
  if (plan.safety.backup !== undefined && !plan.dryRun) {
    try {
      if (!resumeState) await checkRoom(plan.safety.backup, connected);
      ctx.backup = await Backup.open(plan, resumeState, targetPipe, targetInfo, ctx.clock);
    } catch (err) {
      for (const pipe of [targetPipe, ...sourcePipes]) pipe.close();
      await Promise.all([closeServer(target), ...sources.map((s) => closeServer(s))]);
      await failedKeys?.close();
      throw err instanceof KvmergeError ? err : asRunError(err);
    }
    if (!resumeState) log(`journal: ${plan.safety.backup}`);
    const resumed = ctx.backup.resumeSummary();
    if (resumed) {
      log(
        `resuming ${plan.safety.backup}: ${resumed.finished} source(s) finished, ${resumed.applied} key(s) of the ` +
          `next already applied, ${resumed.putBack} key(s) with an unknown outcome put back, ` +
          `${resumed.tempKeys} temporary key(s) removed` +
          (resumed.failed > 0
            ? `, ${resumed.failed} key(s) a finished source did not apply put back to be applied again`
            : ''),
      );
    }
  }

  const sourceRun = (index: number): SourceRun => ({
    index,
    plan: plan.sources[index]!,
    redis: sources[index]!.control,
    nodes: sources[index]!.nodes,
    cluster: clusterView(sources[index]!),
    pipe: sourcePipes[index]!,
    dumps: sourceInfos[index]!.dump !== false,
    nativeReason: sourceInfos[index]!.dump === false ? 'source has no DUMP' : undefined,
    caps: sourceInfos[index]!,
    earlier: plan.sources.slice(0, index).map((s, j) => ({
      pipe: sourcePipes[j]!,
      caps: sourceInfos[j]!,
      prefix: s.prefix,
      match: s.match === undefined ? undefined : Buffer.from(s.match),
    })),
  });

  let outcome: RunOutcome = 'done';
  let error: string | undefined;
  try {
    if (ctx.backup) await retryFailed(ctx, ctx.backup, sourceRun);
    for (let index = 0; index < plan.sources.length; index++) {
      if (ctx.stopped || hooks.signal?.aborted) break;
      if (ctx.backup?.sourceFinished(index)) continue;
      await mergeSource(ctx, sourceRun(index), hooks);
      if (!ctx.stopped && !hooks.signal?.aborted) await ctx.backup?.sourceDone(index);
    }
  } catch (err) {
    outcome = 'failed';
    error = err instanceof Error ? err.message : String(err);
    // The cause, before closing the connections makes the batches still in flight fail on them.
    if (err instanceof RunError) ctx.stopped ??= err;
  } finally {
    hooks.progress?.stop();
    await ctx.temp.removeAll(target.control).catch(() => undefined);
    // Completed: every source's every step applied. The plan's next plain run reads this (SPEC §6.3).
    const completed =
      outcome === 'done' && !ctx.stopped && !hooks.signal?.aborted && tally.totals().failed === 0;
    const journalError = await (async () => {
      try {
        if (completed) await ctx.backup?.complete();
      } finally {
        await ctx.backup?.close();
      }
    })().then(
      () => undefined,
      (err: Error) => err,
    );
    if (journalError && outcome === 'done') {
      outcome = 'failed';
      error = journalError.message;
    }
    for (const pipe of [targetPipe, ...sourcePipes]) pipe.close();
    await Promise.all([closeServer(target), ...sources.map((s) => closeServer(s))]);
    const fileError = await failedKeys?.close();
    if (fileError) log(`could not write ${plan.safety.failedKeys}: ${fileError.message}`);
  }
  if (ctx.stopped) {
    outcome = 'failed';
    error = ctx.stopped.message;
  } else if (outcome === 'done' && hooks.signal?.aborted) {
    outcome = 'interrupted';
  } else if (outcome === 'done' && tally.totals().failed > 0 && !plan.dryRun) {
    outcome = 'failed';
    error = `${tally.totals().failed} key(s) could not be merged`;
  }

  const report = buildReport({
    version: toolVersion(),
    dryRun: plan.dryRun,
    startedAt,
    durationMs: now() - started,
    targetUrl: redactUrl(plan.target.url),
    sources: plan.sources.map((s) => ({ name: s.name, url: redactUrl(s.url) })),
    strategies: plan.strategies,
    tally,
    outcome,
    error,
  });
  if (ctx.backup) report.journal = plan.safety.backup;
  return report;
}

/**
 * SPEC §6.2: before the first write, the journal's disk must have room for it: a record per key of the
 * sources (DBSIZE) and the prior values of the keys the target already holds, estimated from its
 * dataset size (INFO memory) for at most as many keys as the sources hold. Exit 2 otherwise.
 */
async function checkRoom(path: string, connected: Connected): Promise<void> {
  const { sources, sourceInfos, target, targetInfo } = connected;
  const sizes = await Promise.all(
    sources.map((s, i) => serverKeyspace(s.nodes, sourceInfos[i]!).catch(() => 0)),
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
 * Scans one source and runs its batches, at most `concurrency` at once. Keys of one source are
 * distinct, so their batches commute; sources run one after the other, which keeps the fold in
 * declared order whatever the concurrency (SPEC §1.2). The scan pulls a new batch only when a
 * slot is free, so memory holds at most `concurrency` batches (SPEC §2.2).
 */
/**
 * Resume (SPEC §6.3): the keys a finished source did not apply (their step failed under --on-error
 * skip), put back into their first prior when the journal was opened, go through every finished
 * source again, in order, before the run goes on; the source it stopped in and the later ones apply
 * them in their own pass. So each ends as the fold over every source, as a run without the failure
 * leaves it. Marked retried once every finished source had them (a key that fails again stays failed).
 */
async function retryFailed(
  ctx: RunContext,
  backup: Backup,
  sourceRun: (index: number) => SourceRun,
): Promise<void> {
  const keys = backup.retryKeys();
  if (keys.length === 0) return;
  const { batchSize } = ctx.plan.write;
  for (let index = 0; index < ctx.plan.sources.length && backup.sourceFinished(index); index++) {
    const src = sourceRun(index);
    const units = keys.flatMap((targetKey): Unit[] => {
      const key = sourceKeyOf(src.plan, targetKey);
      // Only a question: a key this source does not hold is not counted.
      return key === undefined ? [] : [{ key, ifHeld: true }];
    });
    for (let i = 0; i < units.length; i += batchSize) {
      if (ctx.stopped || ctx.signal?.aborted) return;
      try {
        await processBatch(ctx, src, units.slice(i, i + batchSize));
      } catch (err) {
        ctx.stopped ??= asRunError(err);
      }
    }
  }
  if (!ctx.stopped && !ctx.signal?.aborted) await backup.retried(keys);
}

async function mergeSource(ctx: RunContext, src: SourceRun, hooks: RunHooks): Promise<void> {
  const { write } = ctx.plan;
  // The keyspace only feeds the progress estimate: a user who may not ask gets one from the cursor.
  const keyspace = await serverKeyspace(src.nodes, src.caps).catch(() => undefined);
  const filtered = src.plan.match !== undefined || keyspace === undefined;
  hooks.progress?.sourceStarted(src.index, src.plan.name, filtered ? 0 : (keyspace ?? 0));
  // Batches in flight: at most `concurrency`; the scan waits for a free slot before pulling more.
  const inFlight = new Set<Promise<void>>();
  let done = 0;
  let walked = 0;
  const batches = scanBatches(
    src.nodes,
    {
      match: src.plan.match,
      count: write.scanCount,
      batchSize: write.batchSize,
      server: `source ${src.plan.name} (${redactUrl(src.plan.url)})`,
      ...(hooks.log ? { log: hooks.log } : {}),
    },
    // Sized for the keyspace at once (growing re-inserts every key seen so far), within reason.
    new SeenKeys(Math.max(MIN_SEEN, Math.min(Math.ceil(((keyspace ?? 0) * 4) / 3), MAX_SEEN_PRESIZE))),
    keyspace ?? 0,
    src.caps,
    src.cluster,
  );
  // Batches decide in scan order (each after the one before it) and write only after deciding: a
  // typeMismatch `fail` in batch n stops the run with nothing of batch n written and nothing of a later
  // batch decided or written, whatever the concurrency (SPEC §1.2).
  let previous: Promise<void> = Promise.resolve();
  let batchNumber = 0;
  for await (const batch of batches) {
    if (ctx.stopped || hooks.signal?.aborted) break;
    walked = batch.walked;
    // Resume (SPEC §6.3): a step the interrupted run applied is not applied again.
    const backup = ctx.backup;
    const units = backup
      ? batch.units.filter(
          (u) => !backup.wasApplied(src.index, Buffer.concat([src.plan.prefix, u.key]), u.type),
        )
      : batch.units;
    const before = previous;
    const seq = batchNumber++;
    let markDecided!: () => void;
    const decided = new Promise<void>((resolve) => {
      markDecided = resolve;
    });
    previous = decided;
    // A later type of names that earlier batches held (Pika 3.x) waits for them: the fold order.
    if (batch.after) await Promise.all(inFlight);
    const task = (async () => {
      try {
        await processBatch(ctx, src, units, 1, {
          order: { seq, earlier: before, decided: markDecided },
        });
      } catch (err) {
        ctx.stopped ??= asRunError(err);
      } finally {
        // A batch that failed before deciding must not hold the later ones back.
        await before;
        markDecided();
      }
      done += batch.units.length;
      const estimate = filtered
        ? walked > 0
          ? Math.max(done, Math.round(done / walked))
          : 0
        : (keyspace ?? 0);
      hooks.progress?.update(src.index, done, estimate, ctx.tally.totals());
    })();
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
    if (inFlight.size >= write.concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  hooks.progress?.sourceFinished(src.index);
}

function asRunError(err: unknown): RunError {
  if (err instanceof RunError) return err;
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new RunError(`the run stopped: ${message}`);
}

/**
 * Connects to the target and every source and checks them, before anything is written. A URL that
 * names a node of a cluster brings the whole cluster (redis/server.ts): its masters are probed,
 * checked for permissions and compared with the other side one by one.
 */
async function connectAll(plan: MergePlan): Promise<Connected> {
  const opened: Server[] = [];
  const pipes: Transport[] = [];
  try {
    const target = await openServer(plan.target.url, 'target', 'target', network(plan, plan.target.tls));
    opened.push(target);
    const sources: Server[] = [];
    for (const source of plan.sources) {
      const server = await openServer(
        source.url,
        'source',
        `source ${source.name}`,
        network(plan, source.tls),
      );
      opened.push(server);
      sources.push(server);
    }
    const targetInfo = target.caps;
    const sourceInfos = sources.map((s) => s.caps);
    for (const [i, info] of sourceInfos.entries()) {
      const source = plan.sources[i]!;
      const sameDb = (sources[i]!.nodes[0]!.options.db ?? 0) === (target.nodes[0]!.options.db ?? 0);
      if (sameDb && (await sameInstance(sources[i]!, info, target, targetInfo))) {
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
      for (const node of sources[i]!.nodes) {
        await checkPermissions(node, 'source', `${source.name} (${redactUrl(source.url)})`, {
          writes: false,
          username: parseRedisUrl(source.url).username,
        });
      }
    }
    // The hot path's connections, once the checks above have passed.
    const targetPipe = await openPipe(target, 'target', network(plan, plan.target.tls));
    pipes.push(targetPipe);
    const sourcePipes: Transport[] = [];
    for (const [i, source] of plan.sources.entries()) {
      const pipe = await openPipe(sources[i]!, `source ${source.name}`, network(plan, source.tls));
      pipes.push(pipe);
      sourcePipes.push(pipe);
    }
    return { target, targetInfo, sources, sourceInfos, targetPipe, sourcePipes };
  } catch (err) {
    for (const pipe of pipes) pipe.close();
    await Promise.all(opened.map((server) => closeServer(server)));
    throw err;
  }
}

function network(plan: MergePlan, tls: TlsPlan | undefined): NetworkOptions {
  return { ...plan.network, tls: tlsOptions(tls) };
}

/** The hot path's connection; failing to open it is found before any write (exit 2). */
async function openPipe(server: Server, label: string, options: NetworkOptions): Promise<Transport> {
  const url = server.url;
  try {
    return await openTransport(server, label, options);
  } catch (err) {
    if (err instanceof KvmergeError) throw err;
    const cause = ((err as Error).cause ?? err) as Error;
    const hint = explainTls(cause, parseRedisUrl(url).tls);
    const why = hint ?? (err as Error).message;
    throw new ConnectionError(hint ? `cannot connect to ${label} ${redactUrl(url)}: ${why}` : why);
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
