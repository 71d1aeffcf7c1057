import { ConfigError, ConnectionError, KvmergeError, RunError } from '../common/errors.js';
import { Limiter } from '../common/limiter.js';
import type { NetworkPlan, TlsPlan } from '../config/plan.js';
import { tlsOptions } from '../config/tls.js';
import { parseRedisUrl, redactUrl, withPassword } from '../config/url.js';
import { now } from '../servers/clock.js';
import { sendIdempotent } from '../servers/confirm.js';
import { checkPermissions } from '../servers/permissions.js';
import type { Command } from '../servers/resp.js';
import { closeServer, openServer, openTransport, serverClock } from '../servers/server.js';
import { DEFAULT_NETWORK } from '../servers/socket.js';
import type { Transport } from '../servers/transport.js';
import { JournalFile } from './file.js';
import { type JournalLock, lockJournal } from './lock.js';
import { dumpsPriors, restoreKeys } from './prior.js';
import { journaledTempKeys, journalTargetIs, openJournal, openWindows, type ScanEnd } from './reader.js';
import type { JournaledKey } from './types.js';

export interface RollbackOptions {
  /** The journal that `--backup` wrote. */
  backup: string;
  /** The target URL (with its password); default: the journal's target, which holds none. */
  target?: string;
  tls?: TlsPlan;
  /** List what would be restored; send no write. */
  dryRun?: boolean;
  network?: NetworkPlan;
  /** Keys restored per pipeline. */
  batchSize?: number;
  /**
   * The target's password given apart from the URL (the CLI's KVMERGE_TARGET_PASSWORD): wins over the
   * URL's own; `fallbackPassword` (REDISCLI_AUTH) serves a URL without one. Either one completes the
   * journal's target, whose password is masked.
   */
  password?: string;
  fallbackPassword?: string;
  /** Pipelines in flight (the merge's `write.concurrency`); default 8. */
  concurrency?: number;
}

export interface RollbackHooks {
  /** Keys handled so far (restored or, in a dry run, listed). */
  progress?(done: number): void;
  /** Each key as it would be restored (dry run) : its name and its prior state's kind. */
  planned?(key: JournaledKey): void;
  signal?: AbortSignal;
}

export interface RollbackReport {
  journal: string;
  /** The target, password redacted. */
  target: string;
  runId: string;
  dryRun: boolean;
  /** Keys the run touched, each put back once. */
  keys: number;
  /** Of them, keys given back their prior value (RESTORE or native image). */
  restored: number;
  /** Of them, keys the run created (or whose prior lifetime is over), deleted. */
  deleted: number;
  /** Temporary keys of the run removed (DEL of every one the journal names). */
  tempKeys: number;
  durationMs: number;
  outcome: 'done' | 'interrupted';
}

/**
 * Puts the target back into its state before the run that wrote the journal (SPEC §6.2): every key
 * the run touched gets its prior state (DUMP payload with its original absolute expiry, a native
 * image, or deletion where the run created it), and every temporary key the run announced is
 * deleted. Idempotent: running it twice, or again after an interruption, gives the same target.
 * Refuses a journal of another target (exit 2). A dry run sends no write.
 */
export async function rollback(opts: RollbackOptions, hooks: RollbackHooks = {}): Promise<RollbackReport> {
  const started = now();
  const journal = await openJournal(opts.backup);
  const { header } = journal;
  let url = opts.target ?? header.target;
  const own = opts.target !== undefined ? parseRedisUrl(opts.target, '--target').password : undefined;
  const password = opts.password || own || opts.fallbackPassword;
  if (password && password !== own) url = withPassword(url, password);
  if (opts.target === undefined && !password && url.includes('***')) {
    throw new ConfigError(
      '--target',
      `the journal names ${url} without its password; give the target with -t URL, or its password in KVMERGE_TARGET_PASSWORD`,
    );
  }
  if (!journalTargetIs(header, url)) {
    throw new ConfigError(
      '--target',
      `${opts.backup} is the journal of a run into ${header.target}, not ${redactUrl(url)}; give that target (or that run's journal)`,
    );
  }
  const network = { ...(opts.network ?? DEFAULT_NETWORK), tls: tlsOptions(opts.tls) };
  // A cluster target is the whole cluster: every key goes to the master of its slot.
  const server = await openServer(parseRedisUrl(url, 'target.url'), 'target', 'target', network);
  let pipe: Transport | undefined;
  let windows: Awaited<ReturnType<typeof openWindows>> | undefined;
  let lock: JournalLock | undefined;
  const report: RollbackReport = {
    journal: opts.backup,
    target: header.target,
    runId: header.runId,
    dryRun: opts.dryRun ?? false,
    keys: 0,
    restored: 0,
    deleted: 0,
    tempKeys: 0,
    durationMs: 0,
    outcome: 'done',
  };
  try {
    const caps = server.caps;
    if (!opts.dryRun) {
      for (const node of server.nodes) {
        await checkPermissions(node, 'target', redactUrl(url), {
          writes: true,
          username: parseRedisUrl(url).username,
        });
      }
    }
    // Not beside a run or another rollback on this journal (lock.ts), from before it is read.
    if (!opts.dryRun) lock = await lockJournal(opts.backup);
    // Every temporary key the run announced, and where its whole records end.
    const end: ScanEnd = { validBytes: 0, torn: false };
    const temps = await journaledTempKeys(opts.backup, end);
    const clock = await serverClock(server);
    pipe = await openTransport(server, 'target', network).catch((err: Error) => {
      throw err instanceof KvmergeError
        ? err
        : new ConnectionError(`cannot connect to target ${redactUrl(url)}: ${err.message}`);
    });
    windows = await openWindows(opts.backup);
    if (!opts.dryRun) await markRolledBack(opts.backup, end);
    const batchSize = opts.batchSize ?? 256;
    let batch: JournaledKey[] = [];
    // Batches are put back side by side through the merge's limiter: the journal gives each key's first
    // prior once, so batches touch distinct keys and commute. Where one name holds several types (typed
    // priors, Pika 3.x) one at a time: an absent type's prior sets the expiry of the whole name.
    const limiter = new Limiter(header.typedPriors ? 1 : (opts.concurrency ?? 8));
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const keys = batch;
      batch = [];
      await limiter.run(async () => {
        if (!opts.dryRun) await restoreKeys(pipe!, caps, clock, keys, windows!.read);
        for (const { prior } of keys) {
          report.keys++;
          if (prior.kind === 'absent') report.deleted++;
          else report.restored++;
        }
        hooks.progress?.(report.keys);
      });
    };
    for await (const entry of journal.firstPriors()) {
      if (hooks.signal?.aborted) {
        report.outcome = 'interrupted';
        break;
      }
      if (entry.prior.kind === 'dump' && !dumpsPriors(caps)) {
        throw new ConnectionError(
          `${opts.backup} holds DUMP payloads and the target ${redactUrl(url)} has no RESTORE; roll back into the server the run wrote`,
        );
      }
      hooks.planned?.(entry);
      batch.push(entry);
      if (batch.length >= batchSize) await flush();
    }
    // What is in flight settles, after a stop too: a batch is put back whole or not begun.
    await limiter.idle();
    if (report.outcome === 'done') {
      await flush();
      await limiter.idle();
      report.tempKeys = temps.length;
      if (!opts.dryRun) {
        // One DEL per key: on a cluster, keys of different slots cannot share a command.
        for (let i = 0; i < temps.length; i += batchSize) {
          const dels = temps.slice(i, i + batchSize).map((key): Command => ['DEL', key]);
          await sendIdempotent(pipe, dels, 'the target refused to delete a temporary key');
        }
      }
    }
  } catch (err) {
    if (err instanceof KvmergeError) throw err;
    throw new RunError(
      `the rollback stopped after ${report.keys} key(s): ${(err as Error).message.split('\n')[0]}; run it again to finish (it is safe to repeat)`,
    );
  } finally {
    await lock?.release();
    await windows?.close();
    pipe?.close();
    await closeServer(server);
  }
  report.durationMs = Math.round(now() - started);
  return report;
}

/**
 * Records in the journal, durably and before the first write, that a rollback began: from then on the
 * keys it marks applied may be back in their prior state, so a `--resume` of the run is refused. A torn
 * last record is cut off first, as a resume does, so that the mark follows whole records.
 */
async function markRolledBack(path: string, end: ScanEnd): Promise<void> {
  const file = await JournalFile.reopen(path, end.validBytes).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(
      '--backup',
      `cannot write to the journal ${path} (${err.code ?? err.message}); a rollback marks it so that the run is not resumed after: make it writable`,
    );
  });
  try {
    await file.append([{ kind: 'rollback', at: new Date().toISOString() }], true);
  } finally {
    await file.close();
  }
}
