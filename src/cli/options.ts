import type { Options } from 'yargs';
import { ConfigError } from '../common/errors.js';
import type { CliOverrides } from '../config/load.js';
import {
  type Argv,
  bool,
  flagLabel,
  integer as integerValue,
  type Labeller,
  list,
  single as singleValue,
} from './argv.js';
import { helpDefault } from './option-defaults.js';

/*
 * The `merge` options of SPEC §4 and their translation to
 * the library's CliOverrides. No option has a yargs default: a flag that is not given must stay undefined,
 * so that the environment's, then the config file's value applies (SPEC §3.3); the defaults live in the
 * config schema alone, and the help text shows them from there (option-defaults.ts).
 */

export const SOURCES = 'Sources and target:';
const STRATEGIES = 'Strategies (what happens when the key already exists on the target):';
export const RUN = 'Run:';
const TUNING = 'Performance:';
export const TLS = 'TLS (for every rediss:// URL; per server in the config file):';
export const OUTPUT = 'Output:';
const FOLLOW = 'Live merge and protecting production:';

export const text = (describe: string, group: string): Options => ({
  type: 'string',
  requiresArg: true,
  describe,
  group,
});
export const flag = (describe: string, group: string): Options => ({ type: 'boolean', describe, group });

/**
 * Appends `[default: …]` to each option's help. yargs' own default display is off with hide-types, and a
 * yargs default would make every option look given.
 */
export function withDefaults(
  table: Record<string, Options>,
  worded: Record<string, string | null> = {},
): Record<string, Options> {
  return Object.fromEntries(
    Object.entries(table).map(([name, o]) => {
      // An option shared with another table (rollback's --tls-*) has its default already.
      if (String(o.describe).includes('[default: ')) return [name, o];
      // null: this command has no default for it (rollback's --backup is required).
      const shown = name in worded ? worded[name] : helpDefault(name, o.type);
      return [
        name,
        shown === undefined || shown === null ? o : { ...o, describe: `${o.describe} [default: ${shown}]` },
      ];
    }),
  );
}

/** The option table of `kvmerge merge` (and of `verify`, which will accept the same). */
export const MERGE_OPTIONS: Record<string, Options> = withDefaults({
  config: { ...text('FILE: YAML configuration; flags win over it', SOURCES), alias: 'c' },
  source: {
    ...text(
      'URL: redis://[user:password@]host[:port][/db] (rediss:// for TLS, redis+sentinel://s1:26379,s2:26379/MASTER[/db] behind Sentinel), or an RDB file: PATH or file:///PATH[?db=N]; repeatable, in fold order',
      SOURCES,
    ),
    alias: 's',
    array: true,
  },
  target: { ...text('URL: the instance to merge into', SOURCES), alias: 't' },
  match: text('GLOB: only keys matching this SCAN MATCH pattern, on every source', SOURCES),
  prefix: {
    ...text(
      'P: prepended to every key written to the target; repeatable: the first for the first source, and so on',
      SOURCES,
    ),
    array: true,
  },

  'on-conflict': text('S: for every type: override | merge | skip', STRATEGIES),
  string: text('S: for strings: override | skip', STRATEGIES),
  hash: text('S: for hashes: override | merge | skip', STRATEGIES),
  set: text('S: for sets: override | merge | skip', STRATEGIES),
  zset: text('S: for sorted sets: override | merge | skip', STRATEGIES),
  list: text('S: for lists: override | merge | skip', STRATEGIES),
  stream: text('S: for streams: override | skip', STRATEGIES),
  'type-mismatch': text('P: when the types differ: override | skip | fail', STRATEGIES),
  'hash-field': text('W: hash merge, a field on both sides: source | target wins', STRATEGIES),
  'zset-score': text('W: zset merge, a member on both sides: source | target | max | min | sum', STRATEGIES),
  'list-mode': text('M: list merge: append | prepend | union (append the missing elements)', STRATEGIES),
  ttl: text(
    "W: a merged key's lifetime: max | min | source | target (no expiry counts as longest)",
    STRATEGIES,
  ),

  'dry-run': flag('read everything, write nothing, report what would happen', RUN),
  'fail-on-conflict': flag('with --dry-run: exit 3 when any key would conflict', RUN),
  report: text('FILE: write the JSON report there (dry run or real run)', RUN),
  'print-config': flag(
    'print the effective plan (every default filled in) as YAML that --config reads, and exit; connects to nothing',
    RUN,
  ),

  'on-error': text(
    'P: a key that cannot be written: stop (the run stops there) | skip (count it failed, go on, exit 1)',
    RUN,
  ),
  'failed-keys': text('FILE: list every failed key with its reason, one JSON object a line', RUN),
  backup: text(
    "FILE: the journal of each changed key's prior state, for rollback and --resume (the state directory: $KVMERGE_STATE_DIR or ~/.local/state/kvmerge)",
    RUN,
  ),
  'no-backup': flag(
    'run without a journal: no rollback, and a rerun after a crash can apply steps twice',
    RUN,
  ),
  resume: flag(
    "continue this plan's interrupted run (its journal in the state directory, or --backup FILE)",
    RUN,
  ),
  again: flag(
    'apply the plan although its last run was interrupted, or completed and list append/zset sum would repeat',
    RUN,
  ),

  follow: flag(
    "after the snapshot, keep the target the fold of the sources' current values until Ctrl-C (live merge; needs keyspace notifications, Pika: passes)",
    FOLLOW,
  ),
  'until-caught-up': flag(
    'follow, and exit 0 the first time nothing is pending (for a cut-over script)',
    FOLLOW,
  ),
  'follow-interval': text(
    'S: seconds between passes over a source without notifications (Pika; at most 86,400)',
    FOLLOW,
  ),
  'follow-max-pending': text(
    'N: changed keys held pending; past it, a reconciliation pass (at most 100,000,000)',
    FOLLOW,
  ),
  'set-notify-config': flag(
    'set notify-keyspace-events on the sources where it lacks what --follow needs (a CONFIG SET on each source)',
    FOLLOW,
  ),
  rate: text(
    'N: at most N keys a second read over all sources (snapshot and follow; N at most 100,000,000)',
    FOLLOW,
  ),
  'max-source-latency': text(
    "MS: slow down while a source's recent p99 command latency is above MS (at most 600,000)",
    FOLLOW,
  ),

  'tls-ca': text("FILE: CA certificate(s) (PEM) that sign the servers' certificates", TLS),
  'tls-cert': text('FILE: client certificate (PEM), for servers that ask for one', TLS),
  'tls-key': text("FILE: the client certificate's private key (PEM)", TLS),
  'tls-insecure': flag("do not verify the servers' certificates (testing only)", TLS),

  mode: text('M: write path: auto | dump | native', TUNING),
  concurrency: text('N: batches in flight (at most 1,024)', TUNING),
  batch: text('N: keys per batch (at most 100,000)', TUNING),
  'scan-count': text('N: SCAN COUNT hint (at most 1,000,000)', TUNING),
  'big-key-elements': text(
    'N: a key with more elements is merged or written natively in windows; copied as one payload within --big-key-bytes (at most 100,000,000)',
    TUNING,
  ),
  'big-key-bytes': text(
    'N: a key larger than N bytes is copied in windows; a create or override of it is streamed as one payload within --payload-max-bytes (at most 536,870,912)',
    TUNING,
  ),
  'payload-max-bytes': text(
    'N: a big key copied whole goes as one DUMP payload streamed into RESTORE up to N bytes; 0: always in windows (at most 4,294,967,296)',
    TUNING,
  ),
  'connect-timeout': text(
    'MS: connect, authenticate and select the db, per attempt (at most 600,000)',
    TUNING,
  ),
  'command-timeout': text(
    'MS: no reply for this long: the connection is dropped and retried (at most 3,600,000)',
    TUNING,
  ),
  'retry-budget': text(
    "MS: reconnect with backoff for at most this long, then fail naming the server; as long, a cluster source's resharded slots may take to settle (at most 86,400,000)",
    TUNING,
  ),

  json: flag('print the report as JSON on stdout (logs go to stderr)', OUTPUT),
  'no-progress': flag('plain status lines every few seconds instead of progress bars', OUTPUT),
  quiet: flag('print nothing but errors', OUTPUT),
  verbose: flag('say more; stack traces with internal errors', OUTPUT),
  'progress-json': flag(
    'progress as one JSON object a line on stderr (instead of bars; also with --quiet)',
    OUTPUT,
  ),
  'metrics-port': text(
    'PORT: serve Prometheus metrics on http://127.0.0.1:PORT/metrics during the run',
    OUTPUT,
  ),
});

/**
 * The merge options that say how to write, which `verify` (it only reads) has no use for. Hidden from
 * its --help, and refused when given (readVerifyFlags): `verify --resume` must not look as if it did
 * something. A new merge option shows on verify too unless it is named here.
 */
const MERGE_ONLY = [
  'dry-run',
  'fail-on-conflict',
  'on-error',
  'failed-keys',
  'no-backup',
  'resume',
  'again',
  'follow',
  'until-caught-up',
  'follow-interval',
  'follow-max-pending',
  'set-notify-config',
  'rate',
  'max-source-latency',
];

/** `kvmerge verify` takes the merge's options that decide the fold (the same plan), and these. */
export const VERIFY_OPTIONS: Record<string, Options> = {
  ...Object.fromEntries(
    Object.entries(MERGE_OPTIONS).map(([name, o]) => [
      name,
      MERGE_ONLY.includes(name) ? { ...o, hidden: true } : o,
    ]),
  ),
  ...withDefaults(
    {
      sample: text('N: check N random keys of the sources instead of all', RUN),
      backup: text(
        "FILE: the run's journal: check every key it touched exactly against its prior state",
        RUN,
      ),
      // verify has no bars: its status lines (every 5 s) stay, and only --quiet silences them.
      'no-progress': flag(
        'verify has no progress bars, only a status line every 5 s (--quiet: none)',
        OUTPUT,
      ),
    },
    { backup: 'none (a check without the journal)' },
  ),
};

export interface VerifyFlags extends MergeFlags {
  sample?: number;
  backup?: string;
}

/** The verify flags: the merge's, and --sample and --backup. */
export function readVerifyFlags(argv: Argv, origins: Record<string, string> = {}): VerifyFlags {
  // A merge-only flag on verify's command line is refused; from the environment (KVMERGE_RESUME set for
  // the merges of a shell) it is ignored: verify reads the same environment and has no use for it.
  const given = MERGE_ONLY.find((name) => argv[name] !== undefined && origins[name] === undefined);
  if (given !== undefined) {
    throw new ConfigError(`--${given}`, 'is an option of merge; verify only reads the target: drop it');
  }
  const own: Argv = { ...argv };
  for (const name of MERGE_ONLY) delete own[name];
  const label = labeller(origins);
  const flags: VerifyFlags = readMergeFlags(own, origins);
  const sample = integerValue(own, 'sample', label);
  if (sample !== undefined) {
    if (sample < 1)
      throw new ConfigError(label('sample'), `${sample} is not valid; accepted: a whole number of 1 or more`);
    flags.sample = sample;
  }
  const backup = singleValue(own, 'backup', label);
  if (backup !== undefined) flags.backup = backup;
  return flags;
}

export interface VerifyFlags extends MergeFlags {
  sample?: number;
  backup?: string;
}

/** The names of the boolean options of MERGE_OPTIONS, as written on the command line. */
export const BOOLEAN_FLAGS: readonly string[] = Object.entries(MERGE_OPTIONS)
  .filter(([, o]) => o.type === 'boolean')
  .map(([name]) => name);

/** How the CLI itself behaves, beside what goes into the plan. */
export interface DisplayFlags {
  json: boolean;
  progress: boolean;
  quiet: boolean;
  verbose: boolean;
  /** --progress-json: NDJSON progress events on stderr (report/progress-json.ts). */
  progressJson?: boolean;
  /** --metrics-port: Prometheus metrics on 127.0.0.1 (report/metrics.ts). */
  metricsPort?: number;
}

export interface MergeFlags {
  overrides: CliOverrides;
  display: DisplayFlags;
  /** --print-config: print the plan, connect to nothing. */
  printConfig: boolean;
}

/** `--batch`, or `KVMERGE_BATCH (--batch)` when the environment gave it (env.ts). */
export function labeller(origins: Record<string, string>): Labeller {
  return (name) => (origins[name] ? `${origins[name]} (--${name})` : flagLabel(name));
}

/**
 * Turns yargs' parsed arguments into CliOverrides (undefined for every flag not given) and display
 * flags. `origins`: the options whose value came from the environment, and from which variable.
 */
export function readMergeFlags(argv: Argv, origins: Record<string, string> = {}): MergeFlags {
  const overrides: CliOverrides = Object.keys(origins).length > 0 ? { origins } : {};
  const set = <K extends keyof CliOverrides>(key: K, value: CliOverrides[K] | undefined): void => {
    if (value !== undefined) overrides[key] = value;
  };
  const label = labeller(origins);
  const single = (a: Argv, name: string) => singleValue(a, name, label);
  const integer = (a: Argv, name: string) => integerValue(a, name, label);
  set('config', single(argv, 'config'));
  set('source', list(argv, 'source'));
  set('prefix', list(argv, 'prefix'));
  set('target', single(argv, 'target'));
  set('match', single(argv, 'match'));
  set('onConflict', single(argv, 'on-conflict'));
  for (const type of ['string', 'hash', 'set', 'zset', 'list', 'stream'] as const)
    set(type, single(argv, type));
  set('typeMismatch', single(argv, 'type-mismatch'));
  set('dryRun', bool(argv, 'dry-run'));
  set('failOnConflict', bool(argv, 'fail-on-conflict'));
  set('report', single(argv, 'report'));
  set('mode', single(argv, 'mode'));
  set('concurrency', integer(argv, 'concurrency'));
  set('batch', integer(argv, 'batch'));
  set('scanCount', integer(argv, 'scan-count'));
  set('onError', single(argv, 'on-error'));
  set('failedKeys', single(argv, 'failed-keys'));
  set('backup', single(argv, 'backup'));
  set('resume', bool(argv, 'resume'));
  set('noBackup', bool(argv, 'no-backup'));
  set('again', bool(argv, 'again'));
  set('tlsCa', single(argv, 'tls-ca'));
  set('tlsCert', single(argv, 'tls-cert'));
  set('tlsKey', single(argv, 'tls-key'));
  set('tlsInsecure', bool(argv, 'tls-insecure'));
  set('follow', bool(argv, 'follow'));
  set('untilCaughtUp', bool(argv, 'until-caught-up'));
  set('followInterval', integer(argv, 'follow-interval'));
  set('followMaxPending', integer(argv, 'follow-max-pending'));
  set('setNotifyConfig', bool(argv, 'set-notify-config'));
  set('rate', integer(argv, 'rate'));
  set('maxSourceLatency', integer(argv, 'max-source-latency'));
  set('hashField', single(argv, 'hash-field'));
  set('zsetScore', single(argv, 'zset-score'));
  set('listMode', single(argv, 'list-mode'));
  set('ttl', single(argv, 'ttl'));
  set('bigKeyElements', integer(argv, 'big-key-elements'));
  set('bigKeyBytes', integer(argv, 'big-key-bytes'));
  set('payloadMaxBytes', integer(argv, 'payload-max-bytes'));
  set('connectTimeout', integer(argv, 'connect-timeout'));
  set('commandTimeout', integer(argv, 'command-timeout'));
  set('retryBudget', integer(argv, 'retry-budget'));

  return {
    overrides,
    printConfig: bool(argv, 'print-config') ?? false,
    display: {
      json: bool(argv, 'json') ?? false,
      progress: !(bool(argv, 'no-progress') ?? false),
      quiet: bool(argv, 'quiet') ?? false,
      verbose: bool(argv, 'verbose') ?? false,
      ...operatorFlags(argv, label),
    },
  };
}

/** --progress-json and --metrics-port (report/progress-json.ts, report/metrics.ts), left out when not given. */
function operatorFlags(argv: Argv, label: Labeller): Pick<DisplayFlags, 'progressJson' | 'metricsPort'> {
  const out: Pick<DisplayFlags, 'progressJson' | 'metricsPort'> = {};
  if (bool(argv, 'progress-json')) out.progressJson = true;
  const port = integerValue(argv, 'metrics-port', label);
  if (port !== undefined) {
    if (port < 1 || port > 65535)
      throw new ConfigError(label('metrics-port'), `${port} is not valid; accepted: a TCP port, 1 to 65535`);
    out.metricsPort = port;
  }
  return out;
}
