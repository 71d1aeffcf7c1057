import { readFile } from 'node:fs/promises';
import type * as z from 'zod';
import { ConfigError } from '../common/errors.js';
import {
  DATA_TYPES,
  type NativeType,
  STRATEGIES,
  type Strategy,
  UNMERGEABLE_TYPES,
} from '../types/strategy.js';
import type { MergePlan, SourcePlan, TlsPlan } from './plan.js';
import {
  type ConfigDoc,
  configSchema,
  describeField,
  fieldNamesAt,
  fileNameSchema,
  globSchema,
  mismatchSchema,
  onErrorSchema,
  type PathPart,
  positiveIntSchema,
  strategySchema,
  strategySchemaFor,
  writeModeSchema,
} from './schema.js';
import { endpointLabel, isSameDatabase, parseRedisUrl, type RedisEndpoint, redactUrlsInText } from './url.js';

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
}

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

async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (code ?? String(err));
    throw new ConfigError('--config', `cannot read ${file} (${why}); check the path given to -c`);
  }
  // Loaded here, not at start-up: only a run with a configuration file needs the YAML parser.
  const { LineCounter, parseDocument } = await import('yaml');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const error = doc.errors[0];
  if (error) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    // prettyErrors is off because it quotes the offending line, which may hold a password.
    const what = redactUrlsInText(error.message);
    throw new ConfigError(
      '--config',
      `${file} line ${line}, column ${col}: ${what}; fix the YAML syntax there`,
    );
  }
  try {
    return doc.toJS();
  } catch (err) {
    throw new ConfigError('--config', `${file}: ${redactUrlsInText((err as Error).message)}`);
  }
}

/**
 * Turns a parsed config document (or `{}` when there is no file), the flags and the environment into a
 * validated plan. Pure: no I/O. Precedence is flag > file > default (SPEC §3.3).
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
    if (isSameDatabase(source.endpoint, target.endpoint)) {
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

  const reportFile = flags.report ?? file.report.file;
  const failedKeys = flags.failedKeys ?? file.safety.failedKeys;
  const backup = flags.backup ?? file.safety.backup;
  const targetTls = resolveTls(file.target?.tls, flags);
  return {
    sources: sources.map((s) => s.plan),
    target: targetTls ? { url: target.url, tls: targetTls } : { url: target.url },
    strategies: { ...resolveStrategies(file, flags), typeMismatch: flags.typeMismatch ?? file.typeMismatch },
    merge: file.merge,
    write: {
      mode: flags.mode ?? file.write.mode,
      concurrency: flags.concurrency ?? file.write.concurrency,
      batchSize: flags.batch ?? file.write.batchSize,
      scanCount: flags.scanCount ?? file.write.scanCount,
      bigKeyElements: file.write.bigKeyElements,
      bigKeyBytes: file.write.bigKeyBytes,
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
    network: file.network,
  };
}

type TlsDoc = NonNullable<NonNullable<ConfigDoc['target']>['tls']>;

/**
 * A server's TLS settings: each --tls-* flag sets its field for every server, over the file's per-server
 * `tls` (SPEC §3.3). Empty strings mean "not set". Undefined when nothing is set.
 */
function resolveTls(doc: TlsDoc | undefined, flags: CheckedFlags): TlsPlan | undefined {
  const pick = (flag: string | undefined, own: string | undefined): string | undefined =>
    (flag ?? own) || undefined;
  const tls: TlsPlan = { insecure: flags.tls.insecure ?? doc?.insecure ?? false };
  const ca = pick(flags.tls.ca, doc?.ca);
  const cert = pick(flags.tls.cert, doc?.cert);
  const key = pick(flags.tls.key, doc?.key);
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(
      cert === undefined ? '--tls-cert' : '--tls-key',
      'a client certificate needs both --tls-cert and --tls-key (tls.cert and tls.key)',
    );
  }
  return tls.ca || tls.cert || tls.insecure ? tls : undefined;
}

// ---- flags ----

type CheckedFlags = ReturnType<typeof checkFlags>;

/** Validates every given flag with the schema of the field it stands for, so both accept the same. */
function checkFlags(o: CliOverrides) {
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
    concurrency: checkFlag('--concurrency', positiveIntSchema, o.concurrency),
    batch: checkFlag('--batch', positiveIntSchema, o.batch),
    scanCount: checkFlag('--scan-count', positiveIntSchema, o.scanCount),
    onError: checkFlag('--on-error', onErrorSchema, o.onError),
    failedKeys: checkFlag('--failed-keys', fileNameSchema, o.failedKeys),
    backup: checkFlag('--backup', fileNameSchema, o.backup),
    resume: o.resume,
    noBackup: o.noBackup,
    again: o.again,
    tls: {
      ca: checkFlag('--tls-ca', fileNameSchema, o.tlsCa),
      cert: checkFlag('--tls-cert', fileNameSchema, o.tlsCert),
      key: checkFlag('--tls-key', fileNameSchema, o.tlsKey),
      insecure: o.tlsInsecure,
    },
  };
}

function checkFlag<S extends z.ZodType>(flag: string, schema: S, value: unknown): z.output<S> | undefined {
  if (value === undefined) return undefined;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(flag, `${renderValue(value)} is not valid; accepted: ${schema.description}`);
}

// ---- sources and target ----

interface ResolvedSource {
  plan: SourcePlan;
  endpoint: RedisEndpoint;
  /** Where the source came from, for error messages. */
  field: string;
}

function resolveSources(file: ConfigDoc, flags: CheckedFlags): ResolvedSource[] {
  const fromFlags = flags.source !== undefined;
  const entries =
    flags.source?.map((url) => ({ url, prefix: '' }) as NonNullable<ConfigDoc['sources']>[number]) ??
    file.sources ??
    [];
  if (entries.length === 0) {
    throw new ConfigError(
      'sources',
      'no source given; pass -s URL (repeatable) or list sources in a config file (-c FILE)',
    );
  }

  const byName = new Map<string, number>();
  return entries.map((entry, i) => {
    const field = fromFlags ? '--source' : `sources[${i}].url`;
    const endpoint = parseRedisUrl(entry.url, field);
    const name = entry.name ?? endpointLabel(endpoint);
    const earlier = byName.get(name);
    if (earlier !== undefined) {
      throw new ConfigError(
        fromFlags ? '--source' : `sources[${i}].name`,
        `sources ${earlier} and ${i} are both named "${name}"; ` +
          (fromFlags ? 'the same source is given twice' : 'give each source a distinct name'),
      );
    }
    byName.set(name, i);

    // MATCH * selects every key, like no MATCH; keeping it would only hide that DBSIZE is a valid estimate.
    const match = flags.match ?? entry.match ?? file.match;
    const plan: SourcePlan = { url: entry.url, name, prefix: Buffer.from(entry.prefix, 'utf8') };
    const tls = resolveTls(entry.tls, flags);
    if (tls) plan.tls = tls;
    if (match !== undefined && match !== '*') plan.match = match;
    return { plan, endpoint, field };
  });
}

function resolveTarget(file: ConfigDoc, flags: CheckedFlags): { url: string; endpoint: RedisEndpoint } {
  const url = flags.target ?? file.target?.url;
  if (url === undefined) {
    throw new ConfigError(
      'target',
      'no target given; pass -t URL or set target.url in a config file (-c FILE)',
    );
  }
  return { url, endpoint: parseRedisUrl(url, flags.target !== undefined ? '--target' : 'target.url') };
}

// ---- strategies ----

function resolveStrategies(
  file: ConfigDoc,
  flags: CheckedFlags,
): Omit<MergePlan['strategies'], 'typeMismatch'> {
  // --on-conflict is "the strategy for every type", so it replaces the file's per-type values too.
  const base =
    flags.onConflict !== undefined
      ? { value: flags.onConflict, field: '--on-conflict' }
      : { value: file.strategies.default, field: 'strategies.default' };

  const resolved = {} as Record<NativeType, Strategy>;
  const inheritedMerge: NativeType[] = [];
  for (const type of DATA_TYPES) {
    const flag = flags.strategies[type];
    const own = flags.onConflict === undefined ? file.strategies[type] : undefined;
    const field = flag !== undefined ? `--${type}` : own !== undefined ? `strategies.${type}` : base.field;
    const value = flag ?? own ?? base.value;
    if (value === 'merge' && UNMERGEABLE_TYPES.includes(type)) {
      if (field !== base.field) {
        throw new ConfigError(
          field,
          `"merge" is not possible for ${type} values; accepted for ${type}: ${mergeableAlternatives()}`,
        );
      }
      inheritedMerge.push(type);
    }
    resolved[type] = value;
  }

  if (inheritedMerge.length > 0) {
    const types = inheritedMerge.join(' and ');
    const fix = inheritedMerge
      .map((t) => (base.field === '--on-conflict' ? `--${t}` : `strategies.${t}`))
      .join(' and ');
    throw new ConfigError(
      base.field,
      `"merge" would apply to ${types} values, which cannot be merged; set ${fix} to ${mergeableAlternatives()}`,
    );
  }

  // Module types (ReJSON, …) are opaque DUMP payloads: they cannot be merged. When the default is
  // merge, keeping the target's value is the choice that never destroys data, so `other` falls back to skip.
  const other: Strategy = base.value === 'merge' ? 'skip' : base.value;
  return { ...resolved, other };
}

function mergeableAlternatives(): string {
  return STRATEGIES.filter((s) => s !== 'merge').join(' | ');
}

// ---- ${VAR} substitution ----

/** Replaces `${VAR}` in every string value (not in keys); `$${` stands for a literal `${`. Drops null values. */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: PathPart[]): unknown {
  if (typeof value === 'string') return substitute(value, env, path);
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, [...path, i]));
  if (value !== null && typeof value === 'object') {
    // A key with nothing after it (`write:` whose children are all commented out) reads as null in YAML;
    // it counts as not set rather than as a wrong type.
    const entries = Object.entries(value).filter(([, v]) => v !== null);
    return Object.fromEntries(entries.map(([k, v]) => [k, interpolate(v, env, [...path, k])]));
  }
  return value;
}

function substitute(text: string, env: NodeJS.ProcessEnv, path: PathPart[]): string {
  // One pass, so a variable's value is never itself expanded (a password may contain "${").
  return text.replace(/\$(\$?)\{([^}]*)(\})?/g, (whole, escaped: string, name: string, close?: string) => {
    if (escaped) return whole.slice(1);
    if (close === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      // The text around it may be a password: do not quote it.
      throw new ConfigError(
        formatPath(path),
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the message is about the literal ${ syntax
        'contains a "${" that is not a ${NAME} reference (NAME: letters, digits, _); write $${ for a literal ${',
      );
    }
    const found = env[name];
    if (found === undefined) {
      throw new ConfigError(
        formatPath(path),
        `environment variable ${name} is not set (referenced as \${${name}}); export it or change the value`,
      );
    }
    return found;
  });
}

// ---- error messages ----

function formatPath(path: readonly PathPart[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function issueToError(issue: z.core.$ZodIssue): ConfigError {
  const path = issue.path as PathPart[];
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const accepted = fieldNamesAt(path) ?? [];
    const simple = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
    const near = accepted.find((a) => simple(a) === simple(key));
    const where = path.length > 0 ? ` of ${formatPath(path)}` : '';
    return new ConfigError(
      formatPath([...path, key]),
      `unknown field${near ? ` (did you mean ${near}?)` : ''}; accepted fields${where}: ${accepted.join(', ')}`,
    );
  }
  const accepts = describeField(path) ?? issue.message;
  const field = formatPath(path);
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return new ConfigError(field, `is required; expected ${accepts}`);
  }
  return new ConfigError(field, `${renderValue(issue.input)} is not valid; accepted: ${accepts}`);
}

function renderValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value !== 'string') return String(value);
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(redactUrlsInText(shown));
}
