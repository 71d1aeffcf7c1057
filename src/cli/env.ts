import type { Options } from 'yargs';
import { ConfigError } from '../common/errors.js';
import type { PasswordOverrides } from '../config/flags.js';
import type { Argv } from './argv.js';
import { nearestFlag } from './nearest-flag.js';

/*
 * Options from the environment (SPEC §4): `--on-conflict` is KVMERGE_ON_CONFLICT, and so on. Precedence
 * is flag > environment > config file > default, so the environment only fills what the command line
 * left out; the config layer then sees both as "given". Pure: the caller passes the environment.
 */

const PREFIX = 'KVMERGE_';

/**
 * KVMERGE_ variables that are not options and keep their own meaning: the state directory, the server
 * binary of the demo, and the knobs of the test suite and the benchmark. test/unit/env.test.ts checks
 * that every `env.KVMERGE_…` the repository reads is here.
 */
export const RESERVED_VARIABLES: readonly string[] = [
  'KVMERGE_STATE_DIR',
  'KVMERGE_REDIS_SERVER',
  'KVMERGE_TEST_SERVERS',
  'KVMERGE_PROPERTY_RUNS',
  'KVMERGE_PROPERTY_SEED',
  'KVMERGE_PROPERTY_PATH',
  'KVMERGE_RESUME_RUNS',
  'KVMERGE_FAILOVER_SCALE',
  'KVMERGE_FAILOVER_RUNS',
  'KVMERGE_UNCONFIRMED_RUNS',
  'KVMERGE_CLUSTER_CONFIRM_RUNS',
  'KVMERGE_BENCH_RSS',
];

const TARGET_PASSWORD = 'KVMERGE_TARGET_PASSWORD';
const SOURCE_PASSWORD = /^KVMERGE_SOURCE_(\d+)_PASSWORD$/;
/** redis-cli's variable: the password of every server whose URL has none. */
const FALLBACK_PASSWORD = 'REDISCLI_AUTH';

/** `on-conflict` → `KVMERGE_ON_CONFLICT`. */
export function variableFor(option: string): string {
  return PREFIX + option.toUpperCase().replace(/-/g, '_');
}

const TRUE = ['1', 'true'];
const FALSE = ['0', 'false'];

export interface EnvOptions {
  /** yargs' arguments with the environment's values added where no flag was given. */
  argv: Argv;
  /** option → the variable that gave its value, for error messages. */
  origins: Record<string, string>;
}

/**
 * Adds to `argv` the value of each option of `options` that the command line did not give and the
 * environment does. An empty variable counts as unset. Repeatable options (--source, --prefix) take
 * a whitespace-separated list; switches take 1, 0, true or false.
 */
export function optionsFromEnv(
  argv: Argv,
  options: Record<string, Options>,
  env: NodeJS.ProcessEnv,
): EnvOptions {
  const out: Argv = { ...argv };
  const origins: Record<string, string> = {};
  for (const [name, option] of Object.entries(options)) {
    const variable = variableFor(name);
    const text = env[variable];
    if (argv[name] !== undefined || text === undefined || text.trim() === '') continue;
    origins[name] = variable;
    if (option.type === 'boolean') out[name] = switchValue(variable, text);
    else if (option.array) out[name] = text.trim().split(/\s+/);
    else out[name] = text;
  }
  return { argv: out, origins };
}

function switchValue(variable: string, text: string): boolean {
  const value = text.trim().toLowerCase();
  if (TRUE.includes(value)) return true;
  if (FALSE.includes(value)) return false;
  throw new ConfigError(variable, `${JSON.stringify(text)} is not valid; accepted: 1 | 0 | true | false`);
}

/**
 * The passwords the environment gives apart from the URLs: KVMERGE_TARGET_PASSWORD,
 * KVMERGE_SOURCE_<N>_PASSWORD (N from 1, in the sources' order) and REDISCLI_AUTH.
 */
export function passwordsFromEnv(env: NodeJS.ProcessEnv): PasswordOverrides {
  const passwords: PasswordOverrides = {};
  const target = env[TARGET_PASSWORD];
  if (target) passwords.target = target;
  for (const [name, value] of Object.entries(env)) {
    const m = SOURCE_PASSWORD.exec(name);
    if (!m || !value || Number(m[1]) < 1) continue;
    passwords.sources ??= [];
    passwords.sources[Number(m[1]) - 1] = value;
  }
  const fallback = env[FALLBACK_PASSWORD];
  if (fallback) passwords.fallback = fallback;
  return passwords;
}

/** Every password variable's value: Output masks them wherever they would appear. */
export function passwordValues(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env)
    .filter(([name]) => name === TARGET_PASSWORD || name === FALLBACK_PASSWORD || SOURCE_PASSWORD.test(name))
    .map(([, value]) => value ?? '')
    .filter((value) => value !== '');
}

/**
 * One warning line for each KVMERGE_ variable that names no option (of any command), no password and
 * none of RESERVED_VARIABLES: a typo there would otherwise be silently ignored.
 */
export function unknownVariables(env: NodeJS.ProcessEnv, known: readonly string[]): string[] {
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(PREFIX) || RESERVED_VARIABLES.includes(name) || name === TARGET_PASSWORD) continue;
    const source = SOURCE_PASSWORD.exec(name);
    if (source) {
      if (Number(source[1]) < 1) {
        warnings.push(`warning: ${name} is ignored: sources are numbered from 1 (KVMERGE_SOURCE_1_PASSWORD)`);
      }
      continue;
    }
    const option = name.slice(PREFIX.length).toLowerCase().replace(/_/g, '-');
    if (known.includes(option)) continue;
    const near = nearestFlag(option, known);
    const hint = near
      ? ` (did you mean ${variableFor(near)}?)`
      : /PAS|PWD|AUTH/.test(name)
        ? ` (passwords: ${TARGET_PASSWORD}, KVMERGE_SOURCE_<N>_PASSWORD, ${FALLBACK_PASSWORD})`
        : '';
    warnings.push(`warning: ${name} names no kvmerge option and is ignored${hint}`);
  }
  return warnings;
}
