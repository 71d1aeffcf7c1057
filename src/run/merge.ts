import { KvmergeError, RunError } from '../common/errors.js';
import { toolVersion } from '../common/version.js';
import type { MergePlan } from '../config/plan.js';
import { parseRedisUrl, redactUrl } from '../config/url.js';
import { Backup } from '../journal/backup.js';
import { chooseJournal, prepareBackup } from '../journal/choose-journal.js';
import { lockJournal } from '../journal/lock.js';
import type { ResumeState } from '../journal/resume-state.js';
import { repeatsDouble } from '../journal/state-dir.js';
import { AbsenceGuess } from '../probe/absence.js';
import { RunEvents } from '../report/events.js';
import { FailedKeysFile } from '../report/failed-keys.js';
import { buildReport } from '../report/json.js';
import { Tally } from '../report/tally.js';
import type { FollowSummary, JsonReport, ProgressSink, RunOutcome } from '../report/types.js';
import { now } from '../servers/clock.js';
import { RespPipe } from '../servers/pipe.js';
import { closeServer, clusterView, type Server, serverClock, serverKeyspace } from '../servers/server.js';
import { serverReader } from '../sources/source.js';
import { ByteBudget } from '../write/budget.js';
import { TempKeys } from '../write/temp-keys.js';
import { type Connected, checkRoom, connectAll, network } from './connect.js';
import type { RunContext, SourceRun } from './context.js';
import { asRunError, runSources } from './loop.js';
import { keptWalk, RunState } from './state.js';
import { Throttle } from './throttle.js';

export interface RunHooks {
  /** Receives progress; the CLI renders it. */
  progress?: ProgressSink;
  /** Aborting stops scanning; in-flight batches settle and the report says `interrupted`. */
  signal?: AbortSignal;
  /** Informational lines (fallbacks, warnings), meant for stderr. */
  log?: (line: string) => void;
  /** What runs around the sources' walk on the same connections and journal (a follow, SPEC §9). */
  around?: RunAround;
  /**
   * The command line that started the run, passwords masked: kept in the journal's header, from which
   * `kvmerge status` says how to resume the run.
   */
  command?: readonly string[];
  /** The run's event channel (reconnects, failovers, topology, fallbacks), for live logs and metrics. */
  events?: RunEvents;
}

/** A run's servers and state, as what runs around its walk sees them. */
export interface SnapshotRun {
  ctx: RunContext;
  connected: Connected;
}

/**
 * Work before and after the walk over the sources, on the run's connections and journal: `before`
 * once the servers are connected and checked (a failure is exit 2, nothing written); `after` once
 * every source is done without failure, before the connections close. It says whether the run is
 * complete (the journal records it) and adds its summary to the report; the user's stop during it is
 * its own to handle (the run's outcome stays `done`).
 */
export interface RunAround {
  before(connected: Connected): Promise<void>;
  after(run: SnapshotRun): Promise<{ complete: boolean; follow?: FollowSummary }>;
  close(): void;
}

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
  const events = hooks.events ?? new RunEvents();
  events.tally = tally;
  // Created before any connection: a path that cannot be written is exit 2 before anything happens.
  const failedKeys =
    plan.safety.failedKeys === undefined ? undefined : await FailedKeysFile.create(plan.safety.failedKeys);
  let connected: Connected;
  let resumeState: ResumeState | undefined;
  try {
    // The journal's checks come before any connection (exit 2): a resumed run must be this plan's.
    resumeState = plan.dryRun ? undefined : await prepareBackup(plan);
    connected = await connectAll(plan, events);
  } catch (err) {
    await failedKeys?.close();
    throw err;
  }
  const { target, targetInfo, sources, files, sourceInfos, targetPipe, sourcePipes } = connected;
  try {
    await hooks.around?.before(connected);
  } catch (err) {
    hooks.around?.close();
    for (const pipe of [targetPipe, ...sourcePipes]) pipe.close();
    await Promise.all([closeServer(target), ...sources.map((s) => closeServer(s))]);
    await failedKeys?.close();
    throw err instanceof KvmergeError ? err : asRunError(err);
  }
  for (const warning of targetInfo.warnings) log(`target ${redactUrl(plan.target.url)}: ${warning}`);
  for (const [i, info] of sourceInfos.entries()) {
    for (const warning of info.warnings) log(`source ${plan.sources[i]!.name}: ${warning}`);
    const file = files[i];
    for (const line of file?.describe() ?? []) log(`source ${file!.name}: ${line}`);
  }

  const state = new RunState({
    userSignal: hooks.signal,
    tally,
    failedKeys,
    onError: plan.safety.onError,
    targetRestores: plan.write.mode !== 'native' && targetInfo.restore !== false,
    nativeReason:
      targetInfo.restore === false
        ? targetInfo.kind === 'pika'
          ? 'target is Pika (no RESTORE)'
          : 'target has no RESTORE'
        : undefined,
    sources: sourceInfos.map((info, i) => {
      // An RDB file's payloads carry its version: a target that does not take it gets native writes.
      const fileReason = files[i]?.nativeReason(targetInfo);
      if (fileReason !== undefined) return { dumps: false, nativeReason: fileReason };
      return {
        dumps: info.dump !== false,
        nativeReason: info.dump === false ? 'source has no DUMP' : undefined,
      };
    }),
    absence: new AbsenceGuess(
      !plan.dryRun &&
        plan.strategies.typeMismatch !== 'fail' &&
        // An empty target: what it comes to hold during the run is what earlier sources wrote.
        (await serverKeyspace(target.nodes, targetInfo).catch(() => undefined)) === 0,
    ),
  });
  const ctx: RunContext = {
    plan,
    target: target.control,
    targetPipe,
    targetCaps: targetInfo,
    // A transaction does not survive a reconnect (a new connection is not inside MULTI, and what it
    // was sent would run at once): this connection is never re-established, a drop fails the key.
    openTarget: () =>
      RespPipe.open(parseRedisUrl(plan.target.url), 'target', {
        ...network(plan, plan.target.tls, events),
        retryBudgetMs: 0,
      }),
    clock: await serverClock(target),
    budget: new ByteBudget(BUDGET_BIG_KEYS * plan.write.bigKeyBytes),
    temp: new TempKeys(),
    tally,
    state,
    throttle: openThrottle(plan, sources),
    log,
    events,
  };
  // The journal is open (and a resume has put back what the interrupted run left unsettled) before the
  // first write; a target that refuses DUMP to the journal is exit 2 here, not a failure half-way.
  if (plan.safety.backup !== undefined && !plan.dryRun) {
    try {
      if (!resumeState) await checkRoom(plan.safety.backup, connected);
      ctx.backup = await Backup.open(plan, resumeState, targetPipe, targetInfo, ctx.clock, hooks.command);
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

  const sourceRun = (index: number): SourceRun => {
    const server = sources[index];
    const file = files[index];
    return {
      index,
      plan: plan.sources[index]!,
      ...(server
        ? { redis: server.control, nodes: server.nodes, cluster: clusterView(server) }
        : { nodes: [] }),
      reader:
        file ?? serverReader({ nodes: server!.nodes, pipe: sourcePipes[index]!, caps: sourceInfos[index]! }),
      pipe: sourcePipes[index]!,
      caps: sourceInfos[index]!,
      reads: state.sources[index]!,
      earlier: plan.sources.slice(0, index).map((s, j) => {
        const earlierFile = files[j];
        return {
          pipe: sourcePipes[j]!,
          caps: sourceInfos[j]!,
          prefix: s.prefix,
          match: s.match === undefined ? undefined : Buffer.from(s.match),
          ...(earlierFile ? { types: earlierFile.holderTypes.bind(earlierFile) } : {}),
          walked: () => keptWalk(state.sources[j]!),
        };
      }),
    };
  };

  let outcome: RunOutcome = 'done';
  let error: string | undefined;
  // What runs after the walk (a follow) decides whether the run is complete, and handles the user's stop.
  let after: { complete: boolean; follow?: FollowSummary } | undefined;
  try {
    await runSources(ctx, sourceRun, hooks.progress);
    if (hooks.around && !state.signal.aborted && tally.totals().failed === 0) {
      hooks.progress?.stop();
      after = await hooks.around.after({ ctx, connected });
    }
  } catch (err) {
    outcome = 'failed';
    error = err instanceof Error ? err.message : String(err);
    // The cause, before closing the connections makes the batches still in flight fail on them.
    if (err instanceof RunError) state.stop(err);
  } finally {
    hooks.progress?.stop();
    hooks.around?.close();
    ctx.throttle?.close();
    await ctx.temp.removeAll(targetPipe).catch(() => undefined);
    // Completed: every source's every step applied. The plan's next plain run reads this (SPEC §6.3).
    const completed =
      outcome === 'done' && (after ? after.complete : !state.signal.aborted && tally.totals().failed === 0);
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
  if (state.stopped) {
    outcome = 'failed';
    error = state.stopped.message;
  } else if (outcome === 'done' && state.interrupted && !after) {
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
  if (after?.follow) report.follow = after.follow;
  return report;
}

/**
 * The run's throttle (SPEC §9.5), or none. A source's latency is sampled by a PING to each of its
 * masters on their control connections (a cluster's slowest master counts), beside the hot path.
 */
function openThrottle(plan: MergePlan, sources: (Server | undefined)[]): Throttle | undefined {
  const { rate, maxSourceLatencyMs } = plan.throttle;
  if (rate === undefined && maxSourceLatencyMs === undefined) return undefined;
  const probes =
    maxSourceLatencyMs === undefined
      ? []
      : sources.map((server, i) => ({
          label: plan.sources[i]!.name,
          ping: async () => {
            await Promise.all((server?.nodes ?? []).map((node) => node.ping()));
          },
        }));
  return new Throttle({ rate, maxSourceLatencyMs }, probes);
}
