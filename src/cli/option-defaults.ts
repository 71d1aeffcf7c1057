import { schemaDefault } from '../config/schema.js';

/*
 * What `--help` shows as each option's default. An option that sets a config field shows that field's
 * default as the schema has it (so help and schema cannot disagree); the others say in words what
 * happens without them. test/unit/help-defaults.test.ts checks that every option has one.
 */

/** Option → the config field it sets, whose schema default is the option's. */
export const OPTION_FIELDS: Readonly<Record<string, string>> = {
  'on-conflict': 'strategies.default',
  'type-mismatch': 'typeMismatch',
  'hash-field': 'merge.hashField',
  'zset-score': 'merge.zsetScore',
  'list-mode': 'merge.list',
  ttl: 'merge.ttl',
  'dry-run': 'dryRun',
  'fail-on-conflict': 'failOnConflict',
  'on-error': 'safety.onError',
  resume: 'safety.resume',
  follow: 'follow.enabled',
  'until-caught-up': 'follow.untilCaughtUp',
  'follow-interval': 'follow.intervalSeconds',
  'follow-max-pending': 'follow.maxPending',
  'set-notify-config': 'follow.setNotifyConfig',
  mode: 'write.mode',
  concurrency: 'write.concurrency',
  batch: 'write.batchSize',
  'scan-count': 'write.scanCount',
  'big-key-elements': 'write.bigKeyElements',
  'big-key-bytes': 'write.bigKeyBytes',
  'payload-max-bytes': 'write.payloadMaxBytes',
  'connect-timeout': 'network.connectTimeoutMs',
  'command-timeout': 'network.commandTimeoutMs',
  'retry-budget': 'network.retryBudgetMs',
};

const TYPE_DEFAULT = "--on-conflict's";
const NONE = 'none';

/** Options whose default is not a config field's, in words. Switches not listed default to off. */
export const WORDED_DEFAULTS: Readonly<Record<string, string>> = {
  config: NONE,
  match: 'every key',
  prefix: NONE,
  string: TYPE_DEFAULT,
  hash: TYPE_DEFAULT,
  set: TYPE_DEFAULT,
  zset: TYPE_DEFAULT,
  list: TYPE_DEFAULT,
  stream: TYPE_DEFAULT,
  report: NONE,
  'failed-keys': NONE,
  backup: 'a new file in the state directory',
  rate: 'no cap',
  'max-source-latency': 'off',
  'tls-ca': NONE,
  'tls-cert': NONE,
  'tls-key': NONE,
  sample: 'every key',
  'metrics-port': 'none (no metrics endpoint)',
};

/**
 * Options that have no default: they must be given (as a flag, in the environment or in the config
 * file). Rollback's --backup is required too, though merge's has a default (rollback-options.ts).
 */
export const NO_DEFAULT: readonly string[] = ['source', 'target'];
export const ROLLBACK_NO_DEFAULT: readonly string[] = ['backup'];

/** The default an option's help shows, or undefined for one of NO_DEFAULT. */
export function helpDefault(name: string, type: unknown): string | undefined {
  const field = OPTION_FIELDS[name];
  if (field !== undefined) return shown(schemaDefault(field));
  if (WORDED_DEFAULTS[name] !== undefined) return WORDED_DEFAULTS[name];
  if (type === 'boolean') return 'off';
  return undefined;
}

function shown(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return String(value);
}
