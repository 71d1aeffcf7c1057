import type * as z from 'zod';
import { ConfigError } from '../common/errors.js';
import { DATA_TYPES, type NativeType, type Strategy } from '../types/strategy.js';
import { renderValue } from './messages.js';
import {
  batchSizeSchema,
  bigKeyBytesSchema,
  bigKeyElementsSchema,
  commandTimeoutSchema,
  concurrencySchema,
  connectTimeoutSchema,
  fileNameSchema,
  followIntervalSchema,
  followMaxPendingSchema,
  globSchema,
  hashFieldSchema,
  listMergeSchema,
  maxSourceLatencySchema,
  mismatchSchema,
  onErrorSchema,
  payloadMaxBytesSchema,
  rateSchema,
  retryBudgetSchema,
  scanCountSchema,
  strategySchema,
  strategySchemaFor,
  ttlRuleSchema,
  writeModeSchema,
  zsetScoreSchema,
} from './schema.js';

/**
 * The command-line flags of SPEC §4 that feed the plan. A flag that was not given must be undefined
 * (not `false`, not a default): a defined value wins over the config file.
 */
export interface CliOverrides {
  config?: string;
  source?: string[];
  target?: string;
  onConflict?: string;
  string?: string;
  hash?: string;
  set?: string;
  zset?: string;
  list?: string;
  stream?: string;
  typeMismatch?: string;
  match?: string;
  dryRun?: boolean;
  failOnConflict?: boolean;
  report?: string;
  mode?: string;
  concurrency?: number;
  batch?: number;
  scanCount?: number;
  onError?: string;
  failedKeys?: string;
  backup?: string;
  resume?: boolean;
  noBackup?: boolean;
  again?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsInsecure?: boolean;
  follow?: boolean;
  untilCaughtUp?: boolean;
  followInterval?: number;
  followMaxPending?: number;
  setNotifyConfig?: boolean;
  rate?: number;
  maxSourceLatency?: number;
  hashField?: string;
  zsetScore?: string;
  listMode?: string;
  ttl?: string;
  /** Per source, in the sources' order (the flag's or the file's); the rest keep their own. */
  prefix?: string[];
  bigKeyElements?: number;
  bigKeyBytes?: number;
  payloadMaxBytes?: number;
  connectTimeout?: number;
  commandTimeout?: number;
  retryBudget?: number;
  /**
   * Passwords given apart from the URLs (the CLI reads them from the environment, so that they never
   * stand in argv). One given here wins over the URL's own; `fallback` serves a URL without one.
   */
  passwords?: PasswordOverrides;
  /**
   * Where a value came from when it was not typed as a flag: option name (`batch`) → its origin
   * (`KVMERGE_BATCH`), so that an error names what the user has to fix.
   */
  origins?: Record<string, string>;
}

export interface PasswordOverrides {
  target?: string;
  /** Index 0 is the first source. */
  sources?: (string | undefined)[];
  /** For every server whose URL and whose own override have none (`REDISCLI_AUTH`). */
  fallback?: string;
}

export type CheckedFlags = ReturnType<typeof checkFlags>;

/** Validates every given flag with the schema of the field it stands for, so both accept the same. */
export function checkFlags(o: CliOverrides) {
  // `--batch`, or `KVMERGE_BATCH (--batch)` for a value the environment gave.
  const checkFlag = <S extends z.ZodType>(flag: string, schema: S, value: unknown) => {
    const origin = o.origins?.[flag.slice(2)];
    return checkValue(origin ? `${origin} (${flag})` : flag, schema, value);
  };
  const strategyFlags: Partial<Record<NativeType, Strategy>> = {};
  for (const type of DATA_TYPES)
    strategyFlags[type] = checkFlag(`--${type}`, strategySchemaFor(type), o[type]);
  return {
    source: o.source !== undefined && o.source.length > 0 ? o.source : undefined,
    target: o.target,
    onConflict: checkFlag('--on-conflict', strategySchema, o.onConflict),
    strategies: strategyFlags,
    typeMismatch: checkFlag('--type-mismatch', mismatchSchema, o.typeMismatch),
    match: checkFlag('--match', globSchema, o.match),
    dryRun: o.dryRun,
    failOnConflict: o.failOnConflict,
    report: checkFlag('--report', fileNameSchema, o.report),
    mode: checkFlag('--mode', writeModeSchema, o.mode),
    concurrency: checkFlag('--concurrency', concurrencySchema, o.concurrency),
    batch: checkFlag('--batch', batchSizeSchema, o.batch),
    scanCount: checkFlag('--scan-count', scanCountSchema, o.scanCount),
    onError: checkFlag('--on-error', onErrorSchema, o.onError),
    failedKeys: checkFlag('--failed-keys', fileNameSchema, o.failedKeys),
    backup: checkFlag('--backup', fileNameSchema, o.backup),
    resume: o.resume,
    noBackup: o.noBackup,
    again: o.again,
    follow: o.follow,
    untilCaughtUp: o.untilCaughtUp,
    followInterval: checkFlag('--follow-interval', followIntervalSchema, o.followInterval),
    followMaxPending: checkFlag('--follow-max-pending', followMaxPendingSchema, o.followMaxPending),
    setNotifyConfig: o.setNotifyConfig,
    rate: checkFlag('--rate', rateSchema, o.rate),
    maxSourceLatency: checkFlag('--max-source-latency', maxSourceLatencySchema, o.maxSourceLatency),
    merge: {
      hashField: checkFlag('--hash-field', hashFieldSchema, o.hashField),
      zsetScore: checkFlag('--zset-score', zsetScoreSchema, o.zsetScore),
      list: checkFlag('--list-mode', listMergeSchema, o.listMode),
      ttl: checkFlag('--ttl', ttlRuleSchema, o.ttl),
    },
    prefix: o.prefix !== undefined && o.prefix.length > 0 ? o.prefix : undefined,
    bigKeyElements: checkFlag('--big-key-elements', bigKeyElementsSchema, o.bigKeyElements),
    bigKeyBytes: checkFlag('--big-key-bytes', bigKeyBytesSchema, o.bigKeyBytes),
    payloadMaxBytes: checkFlag('--payload-max-bytes', payloadMaxBytesSchema, o.payloadMaxBytes),
    network: {
      connectTimeoutMs: checkFlag('--connect-timeout', connectTimeoutSchema, o.connectTimeout),
      commandTimeoutMs: checkFlag('--command-timeout', commandTimeoutSchema, o.commandTimeout),
      retryBudgetMs: checkFlag('--retry-budget', retryBudgetSchema, o.retryBudget),
    },
    passwords: o.passwords ?? {},
    tls: {
      ca: checkFlag('--tls-ca', fileNameSchema, o.tlsCa),
      cert: checkFlag('--tls-cert', fileNameSchema, o.tlsCert),
      key: checkFlag('--tls-key', fileNameSchema, o.tlsKey),
      insecure: o.tlsInsecure,
    },
  };
}

function checkValue<S extends z.ZodType>(flag: string, schema: S, value: unknown): z.output<S> | undefined {
  if (value === undefined) return undefined;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(flag, `${renderValue(value)} is not valid; accepted: ${schema.description}`);
}
