import { ConfigError } from '../common/errors.js';
import { readConfigFile } from './config-file.js';
import { type CliOverrides, checkFlags } from './flags.js';
import { interpolate } from './interpolate.js';
import { issueToError } from './messages.js';
import type { MergePlan } from './plan.js';
import { resolveSources, resolveTarget, resolveTls } from './resolve-servers.js';
import { resolveStrategies } from './resolve-strategies.js';
import { configSchema } from './schema.js';
import { endpointLabel, isSameDatabase } from './url.js';

export type { CliOverrides } from './flags.js';

/**
 * Reads the YAML file named by `overrides.config` (if any) and resolves it with the flags into a plan.
 * Opens no connection (SPEC §3.4): every error is a ConfigError, exit 2.
 */
export async function loadPlan(
  overrides: CliOverrides,
  env: NodeJS.ProcessEnv = process.env,
): Promise<MergePlan> {
  const doc = overrides.config === undefined ? {} : await readConfigFile(overrides.config);
  return resolvePlan(doc, overrides, env);
}

/**
 * Turns a parsed config document (or `{}` when there is no file), the flags and the environment (for
 * `${VAR}`) into a validated plan. Pure: no I/O. Precedence is flag > environment > file > default
 * (SPEC §3.3, §4): the CLI puts the KVMERGE_ variables' values into `overrides` where no flag was given.
 */
export function resolvePlan(
  doc: unknown,
  overrides: CliOverrides = {},
  env: NodeJS.ProcessEnv = {},
): MergePlan {
  const raw = doc ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(
      '',
      'the configuration must be a YAML mapping of fields (version, sources, target, …)',
    );
  }
  const parsed = configSchema.safeParse(interpolate(raw, env, []), { reportInput: true });
  if (!parsed.success) throw issueToError(parsed.error.issues[0]!);
  const file = parsed.data;
  const flags = checkFlags(overrides);

  const sources = resolveSources(file, flags);
  const target = resolveTarget(file, flags);
  for (const source of sources) {
    if (source.endpoint && isSameDatabase(source.endpoint, target.endpoint)) {
      throw new ConfigError(
        source.field,
        `source ${source.plan.name} is the target itself (${endpointLabel(target.endpoint)}); ` +
          'kvmerge never writes to a source: pick another target or database',
      );
    }
  }

  const dryRun = flags.dryRun ?? file.dryRun;
  const failOnConflict = flags.failOnConflict ?? file.failOnConflict;
  if (failOnConflict && !dryRun) {
    throw new ConfigError(
      flags.failOnConflict ? '--fail-on-conflict' : 'failOnConflict',
      'only has a meaning with a dry run; add --dry-run (or dryRun: true)',
    );
  }

  // --until-caught-up is a follow that ends once caught up: it implies --follow.
  const following = (flags.follow ?? file.follow.enabled) || (flags.untilCaughtUp ?? false);
  const file0 = sources.find((s) => s.plan.file);
  if (following && file0) {
    throw new ConfigError(
      file0.field,
      `source ${file0.plan.name} is an RDB file, which does not change: a follow needs live sources; drop --follow`,
    );
  }
  if (following && dryRun) {
    throw new ConfigError(
      '--follow',
      'a follow writes every change it sees; drop --dry-run (or dryRun: true)',
    );
  }
  if (following && flags.noBackup) {
    throw new ConfigError(
      '--follow',
      'a follow folds each changed key again from its journaled prior state; drop --no-backup',
    );
  }
  const rate = flags.rate ?? file.throttle.rate;
  const maxSourceLatencyMs = flags.maxSourceLatency ?? file.throttle.maxSourceLatencyMs;

  const reportFile = flags.report ?? file.report.file;
  const failedKeys = flags.failedKeys ?? file.safety.failedKeys;
  const backup = flags.backup ?? file.safety.backup;
  const targetTls = resolveTls(file.target?.tls, flags);
  return {
    sources: sources.map((s) => s.plan),
    target: targetTls ? { url: target.url, tls: targetTls } : { url: target.url },
    strategies: { ...resolveStrategies(file, flags), typeMismatch: flags.typeMismatch ?? file.typeMismatch },
    merge: {
      hashField: flags.merge.hashField ?? file.merge.hashField,
      zsetScore: flags.merge.zsetScore ?? file.merge.zsetScore,
      list: flags.merge.list ?? file.merge.list,
      ttl: flags.merge.ttl ?? file.merge.ttl,
    },
    write: {
      mode: flags.mode ?? file.write.mode,
      concurrency: flags.concurrency ?? file.write.concurrency,
      batchSize: flags.batch ?? file.write.batchSize,
      scanCount: flags.scanCount ?? file.write.scanCount,
      bigKeyElements: flags.bigKeyElements ?? file.write.bigKeyElements,
      bigKeyBytes: flags.bigKeyBytes ?? file.write.bigKeyBytes,
      payloadMaxBytes: flags.payloadMaxBytes ?? file.write.payloadMaxBytes,
    },
    report: reportFile ? { file: reportFile, sample: file.report.sample } : { sample: file.report.sample },
    dryRun,
    failOnConflict,
    safety: {
      onError: flags.onError ?? file.safety.onError,
      ...(failedKeys ? { failedKeys } : {}),
      ...(backup ? { backup } : {}),
      resume: flags.resume ?? file.safety.resume,
      noBackup: flags.noBackup ?? false,
      again: flags.again ?? false,
    },
    network: {
      connectTimeoutMs: flags.network.connectTimeoutMs ?? file.network.connectTimeoutMs,
      commandTimeoutMs: flags.network.commandTimeoutMs ?? file.network.commandTimeoutMs,
      retryBudgetMs: flags.network.retryBudgetMs ?? file.network.retryBudgetMs,
    },
    ...(following
      ? {
          follow: {
            untilCaughtUp: flags.untilCaughtUp ?? file.follow.untilCaughtUp,
            intervalMs: (flags.followInterval ?? file.follow.intervalSeconds) * 1000,
            maxPending: flags.followMaxPending ?? file.follow.maxPending,
            setNotifyConfig: flags.setNotifyConfig ?? file.follow.setNotifyConfig,
          },
        }
      : {}),
    throttle: {
      ...(rate ? { rate } : {}),
      ...(maxSourceLatencyMs ? { maxSourceLatencyMs } : {}),
    },
  };
}
