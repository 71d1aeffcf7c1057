import type { Options } from 'yargs';
import { ConfigError } from '../common/errors.js';
import type { CliOverrides } from '../config/load.js';
import { positiveIntSchema } from '../config/schema.js';

/*
 * The `merge` options of SPEC §4 and their translation to
 * the library's CliOverrides. No option has a default here: a flag that is not given must stay undefined,
 * so that the config file's value applies (SPEC §3.3); the defaults live in the config schema alone.
 */

const SOURCES = 'Sources and target:';
const STRATEGIES = 'Strategies (what happens when the key already exists on the target):';
const RUN = 'Run:';
const TUNING = 'Performance:';
const TLS = 'TLS (for every rediss:// URL; per server in the config file):';
const OUTPUT = 'Output:';
const FOLLOW = 'Live merge and protecting production (SPEC §9):';

const text = (describe: string, group: string): Options => ({
  type: 'string',
  requiresArg: true,
  describe,
  group,
});
const flag = (describe: string, group: string): Options => ({ type: 'boolean', describe, group });

/** The option table of `kvmerge merge` (and of `verify`, which will accept the same). */
export const MERGE_OPTIONS: Record<string, Options> = {
  config: { ...text('FILE: YAML configuration; flags win over it', SOURCES), alias: 'c' },
  source: {
    ...text(
      'URL: redis://[user:password@]host[:port][/db] (rediss:// for TLS, redis+sentinel://s1:26379,s2:26379/MASTER[/db] behind Sentinel); repeatable, in fold order',
      SOURCES,
    ),
    alias: 's',
    array: true,
  },
  target: { ...text('URL: the instance to merge into', SOURCES), alias: 't' },
  match: text('GLOB: only keys matching this SCAN MATCH pattern, on every source', SOURCES),

  'on-conflict': text('S: for every type: override | merge | skip', STRATEGIES),
  string: text('S: for strings: override | skip', STRATEGIES),
  hash: text('S: for hashes: override | merge | skip', STRATEGIES),
  set: text('S: for sets: override | merge | skip', STRATEGIES),
  zset: text('S: for sorted sets: override | merge | skip', STRATEGIES),
  list: text('S: for lists: override | merge | skip', STRATEGIES),
  stream: text('S: for streams: override | skip', STRATEGIES),
  'type-mismatch': text('P: when the types differ: override | skip | fail', STRATEGIES),

  'dry-run': flag('read everything, write nothing, report what would happen', RUN),
  'fail-on-conflict': flag('with --dry-run: exit 3 when any key would conflict', RUN),
  report: text('FILE: write the JSON report there (dry run or real run)', RUN),

  'on-error': text(
    'P: a key that cannot be written: stop (the run stops there) | skip (count it failed, go on, exit 1)',
    RUN,
  ),
  'failed-keys': text('FILE: list every failed key with its reason, one JSON object a line', RUN),
  backup: text(
    "FILE: the journal of each changed key's prior state, for rollback and --resume (default: a new file in the state directory, $KVMERGE_STATE_DIR or ~/.local/state/kvmerge)",
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
    'S: seconds between passes over a source without notifications (Pika) (default 60)',
    FOLLOW,
  ),
  'follow-max-pending': text(
    'N: changed keys held pending; past it, a reconciliation pass (default 1000000)',
    FOLLOW,
  ),
  'set-notify-config': flag(
    'set notify-keyspace-events on the sources where it lacks what --follow needs (a CONFIG SET on each source)',
    FOLLOW,
  ),
  rate: text(
    'N: at most N keys a second read over all sources (snapshot and follow; default: no cap)',
    FOLLOW,
  ),
  'max-source-latency': text(
    "MS: slow down while a source's recent p99 command latency is above MS (default: off)",
    FOLLOW,
  ),

  'tls-ca': text("FILE: CA certificate(s) (PEM) that sign the servers' certificates", TLS),
  'tls-cert': text('FILE: client certificate (PEM), for servers that ask for one', TLS),
  'tls-key': text("FILE: the client certificate's private key (PEM)", TLS),
  'tls-insecure': flag("do not verify the servers' certificates (testing only)", TLS),

  mode: text('M: write path: auto | dump | native', TUNING),
  concurrency: text('N: batches in flight', TUNING),
  batch: text('N: keys per batch', TUNING),
  'scan-count': text('N: SCAN COUNT hint', TUNING),

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
};

/** `kvmerge verify` takes the merge's options (the same plan), and these. */
export const VERIFY_OPTIONS: Record<string, Options> = {
  ...MERGE_OPTIONS,
  sample: text('N: check N random keys of the sources instead of all', RUN),
  backup: text("FILE: the run's journal: check every key it touched exactly against its prior state", RUN),
};

export interface VerifyFlags extends MergeFlags {
  sample?: number;
  backup?: string;
}

/** The verify flags: the merge's, and --sample and --backup. */
export function readVerifyFlags(argv: Argv): VerifyFlags {
  const flags: VerifyFlags = readMergeFlags(argv);
  const sample = integer(argv, 'sample');
  if (sample !== undefined) {
    if (sample < 1)
      throw new ConfigError('--sample', `${sample} is not valid; accepted: a whole number of 1 or more`);
    flags.sample = sample;
  }
  const backup = single(argv, 'backup');
  if (backup !== undefined) flags.backup = backup;
  return flags;
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
}

type Argv = Record<string, unknown>;

/** Turns yargs' parsed arguments into CliOverrides (undefined for every flag not given) and display flags. */
export function readMergeFlags(argv: Argv): MergeFlags {
  const overrides: CliOverrides = {};
  const set = <K extends keyof CliOverrides>(key: K, value: CliOverrides[K] | undefined): void => {
    if (value !== undefined) overrides[key] = value;
  };
  set('config', single(argv, 'config'));
  const sources = argv.source as string[] | undefined;
  if (sources !== undefined) overrides.source = sources.map(String);
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

  return {
    overrides,
    display: {
      json: bool(argv, 'json') ?? false,
      progress: !(bool(argv, 'no-progress') ?? false),
      quiet: bool(argv, 'quiet') ?? false,
      verbose: bool(argv, 'verbose') ?? false,
      ...operatorFlags(argv),
    },
  };
}

/** --progress-json and --metrics-port (SPEC §11), left out when not given. */
function operatorFlags(argv: Argv): Pick<DisplayFlags, 'progressJson' | 'metricsPort'> {
  const out: Pick<DisplayFlags, 'progressJson' | 'metricsPort'> = {};
  if (bool(argv, 'progress-json')) out.progressJson = true;
  const port = integer(argv, 'metrics-port');
  if (port !== undefined) {
    if (port < 1 || port > 65535)
      throw new ConfigError('--metrics-port', `${port} is not valid; accepted: a TCP port, 1 to 65535`);
    out.metricsPort = port;
  }
  return out;
}

/** A single-valued option; given twice is an error rather than a silent "last one wins". */
function single(argv: Argv, name: string): string | undefined {
  const value = argv[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    throw new ConfigError(`--${name}`, 'given more than once; pass it once');
  }
  return String(value);
}

function bool(argv: Argv, name: string): boolean | undefined {
  const value = argv[name];
  if (value === undefined) return undefined;
  // A switch repeated (`--dry-run --dry-run`) means the same as once.
  return Array.isArray(value) ? Boolean(value[value.length - 1]) : Boolean(value);
}

/** A count flag: the config schema checks the range, this only turns digits into a number. */
function integer(argv: Argv, name: string): number | undefined {
  const value = single(argv, name);
  if (value === undefined) return undefined;
  if (!/^\s*\d+\s*$/.test(value)) {
    throw new ConfigError(
      `--${name}`,
      `${JSON.stringify(value)} is not valid; accepted: ${positiveIntSchema.description}`,
    );
  }
  return Number(value);
}

/**
 * yargs reads `--dry-run=maybe` as false without a word. A switch takes no value but true or false, and
 * anything else is a usage error like any bad value.
 */
export function checkSwitchValues(args: readonly string[], switches: readonly string[]): void {
  for (const arg of args) {
    if (arg === '--') return;
    const m = /^--([^=]+)=(.*)$/s.exec(arg);
    if (!m || !switches.includes(m[1]!)) continue;
    if (m[2] !== 'true' && m[2] !== 'false') {
      throw new ConfigError(`--${m[1]}`, `is a switch and takes no value (got ${JSON.stringify(m[2])})`);
    }
  }
}

/** The options of `kvmerge rollback` (SPEC §4, §6.2). */
export const ROLLBACK_OPTIONS: Record<string, Options> = {
  backup: text('FILE: the journal that `merge --backup FILE` wrote', SOURCES),
  target: {
    ...text("URL: the run's target (default: the journal's, which holds no password)", SOURCES),
    alias: 't',
  },
  'dry-run': flag('list what would be restored; write nothing', RUN),
  'tls-ca': MERGE_OPTIONS['tls-ca']!,
  'tls-cert': MERGE_OPTIONS['tls-cert']!,
  'tls-key': MERGE_OPTIONS['tls-key']!,
  'tls-insecure': MERGE_OPTIONS['tls-insecure']!,
  json: flag('print the summary as JSON on stdout', OUTPUT),
  'no-progress': MERGE_OPTIONS['no-progress']!,
  quiet: MERGE_OPTIONS.quiet!,
  verbose: MERGE_OPTIONS.verbose!,
};

export interface RollbackFlags {
  backup: string;
  target?: string;
  dryRun: boolean;
  tls: { ca?: string; cert?: string; key?: string; insecure: boolean };
  display: DisplayFlags;
}

export function readRollbackFlags(argv: Argv): RollbackFlags {
  const target = single(argv, 'target');
  const backup = single(argv, 'backup');
  if (backup === undefined) {
    throw new ConfigError(
      '--backup',
      'is required: give the journal that `kvmerge merge --backup FILE` wrote',
    );
  }
  const tls = {
    ca: single(argv, 'tls-ca'),
    cert: single(argv, 'tls-cert'),
    key: single(argv, 'tls-key'),
    insecure: bool(argv, 'tls-insecure') ?? false,
  };
  return {
    backup,
    ...(target !== undefined ? { target } : {}),
    dryRun: bool(argv, 'dry-run') ?? false,
    tls,
    display: {
      json: bool(argv, 'json') ?? false,
      progress: !(bool(argv, 'no-progress') ?? false),
      quiet: bool(argv, 'quiet') ?? false,
      verbose: bool(argv, 'verbose') ?? false,
    },
  };
}
