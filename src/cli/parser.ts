import yargs, { type Argv } from 'yargs';
import { KvmergeError } from '../common/errors.js';
import { toolVersion } from '../common/version.js';
import { checkSwitchValues } from './argv.js';
import { optionsFromEnv, passwordsFromEnv, unknownVariables } from './env.js';
import { nearestFlag } from './nearest-flag.js';
import {
  BOOLEAN_FLAGS,
  MERGE_OPTIONS,
  type MergeFlags,
  readMergeFlags,
  readVerifyFlags,
  VERIFY_OPTIONS,
  type VerifyFlags,
} from './options.js';
import { ROLLBACK_OPTIONS, type RollbackFlags, readRollbackFlags } from './rollback-options.js';
import { readStatusFlags, STATUS_OPTIONS, type StatusFlags } from './status-options.js';

/** A command line that yargs refuses (unknown option, missing value). Exit 2, with a pointer to --help. */
export class UsageError extends KvmergeError {
  constructor(message: string) {
    super(`${message} (see kvmerge --help)`, 2);
  }
}

/** What the command line (and the environment) asks for, once parsed. */
export type Command = (
  | { kind: 'merge'; flags: MergeFlags }
  | { kind: 'demo'; progress: boolean }
  | { kind: 'verify'; flags: VerifyFlags }
  | { kind: 'rollback'; flags: RollbackFlags }
  | { kind: 'status'; flags: StatusFlags }
  /** --help or --version: yargs has printed it. */
  | { kind: 'printed' }
) & {
  /** Lines to show before anything else (a KVMERGE_ variable that names no option). */
  warnings?: string[];
};

const EPILOG = `Examples:
  Preview a merge of two shards (hashes merged, strings overridden), conflict report in plan.json:
    kvmerge -s redis://10.0.0.11:6379 -s redis://10.0.0.12:6379 -t redis://10.0.0.20:6379 \\
      --hash merge --string override --dry-run --report plan.json
  Run the merge that a configuration file describes (see config.example.yaml):
    kvmerge -c kvmerge.yaml
  CI gate: exit 3 when any key would conflict, print nothing else:
    kvmerge -c kvmerge.yaml --dry-run --fail-on-conflict --quiet
  After the run, check the target against the sources (exit 1 listing each difference):
    kvmerge verify -c kvmerge.yaml --backup run1.journal
  Undo a run made with --backup run1.journal (first see what it would do with --dry-run):
    kvmerge rollback --backup run1.journal -t redis://10.0.0.20:6379
  What a journal says (how the run stands, the command that resumes or undoes it), no server touched:
    kvmerge status --backup run1.journal
  Try it on throwaway local servers:
    kvmerge demo

Exit codes: 0 done, 1 the run failed part-way (or keys failed under --on-error skip; verify: differences), 2 bad usage or
configuration, unreachable server, failed authentication or missing permissions (nothing written), 3 conflicts
found (--fail-on-conflict), 130 interrupted (Ctrl-C).`;

/**
 * Parses the command line. yargs prints --help and --version itself (on stdout); every error it finds
 * becomes a one-line UsageError instead of its usage dump.
 */
export async function parseCommandLine(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Command> {
  checkSwitchValues(args, [...BOOLEAN_FLAGS]);
  let command: Command = { kind: 'printed' };
  // The environment fills the options the command line left out (flag > environment > file > default).
  const known = [...new Set([...Object.keys(VERIFY_OPTIONS), ...Object.keys(ROLLBACK_OPTIONS)])];
  const warnings = unknownVariables(env, known);
  const planFlags = <F extends MergeFlags>(flags: F): F => {
    flags.overrides.passwords = passwordsFromEnv(env);
    return flags;
  };
  const parser = yargs([...args])
    .scriptName('kvmerge')
    .usage(
      'Usage: kvmerge [merge] [options]\n\nMerge several Redis instances into one target, per-type strategies.',
    )
    .parserConfiguration({
      // `-s a b` is a mistake (a second value without -s), not two sources.
      'greedy-arrays': false,
      // --no-progress is an option of its own; `--no-X` must not silently mean "X false" for other flags.
      'boolean-negation': false,
    })
    .command(
      ['merge', '$0'],
      'merge the sources into the target (the default command)',
      (y) => y.options(MERGE_OPTIONS),
      (argv) => {
        const given = optionsFromEnv(argv, MERGE_OPTIONS, env);
        command = { kind: 'merge', flags: planFlags(readMergeFlags(given.argv, given.origins)), warnings };
      },
    )
    .command(
      'verify',
      'check the target against the sources under the same strategies (exit 1 on any difference)',
      (y) => y.options(VERIFY_OPTIONS),
      (argv) => {
        const given = optionsFromEnv(argv, VERIFY_OPTIONS, env);
        command = { kind: 'verify', flags: planFlags(readVerifyFlags(given.argv, given.origins)), warnings };
      },
    )
    .command(
      'rollback',
      'restore the target to its state before the run that wrote --backup FILE',
      (y) => y.options(ROLLBACK_OPTIONS),
      (argv) => {
        const given = optionsFromEnv(argv, ROLLBACK_OPTIONS, env);
        const flags = { ...readRollbackFlags(given.argv, given.origins), passwords: passwordsFromEnv(env) };
        command = { kind: 'rollback', flags, warnings };
      },
    )
    .command(
      'status',
      'summarize a journal (--backup FILE), or list the runs in the state directory; touches no server',
      (y) => y.options(STATUS_OPTIONS),
      (argv) => {
        command = { kind: 'status', flags: readStatusFlags(argv) };
      },
    )
    .command(
      'demo',
      'start throwaway local servers with sample shards, show a dry run, merge',
      (y) =>
        y.option('no-progress', { type: 'boolean', describe: 'plain status lines instead of progress bars' }),
      (argv) => {
        command = { kind: 'demo', progress: argv['no-progress'] !== true };
      },
    )
    .strict()
    .help('help')
    .alias('help', 'h')
    .version('version', 'print the version', toolVersion())
    .epilog(EPILOG)
    .wrap(Math.min(110, yargs().terminalWidth()))
    .exitProcess(false)
    .fail((message, err) => {
      // yargs' own complaints come as a message, or as a YError; anything else was thrown by a handler.
      if (err && err.name !== 'YError') throw err;
      throw new UsageError(rewordYargsMessage(message ?? err?.message ?? 'bad command line', args));
    });
  hideTypes(parser);
  skipHelpCache(parser);
  await parser.parseAsync();
  return command;
}

/** The option labels ([string], [boolean]) say nothing the descriptions do not; yargs 18 can hide them. */
function hideTypes(parser: Argv): void {
  const withUsageConfig = parser as Argv & { usageConfiguration?: (c: Record<string, boolean>) => Argv };
  withUsageConfig.usageConfiguration?.({ 'hide-types': true });
}

/**
 * yargs renders the whole help text of a command given by name (`kvmerge merge …`) once its handler has
 * run, to cache it for a later showHelp(), which kvmerge never calls (--help is printed before any
 * handler runs, and errors are one line): 15-30 ms of every run's start-up (issue 20), which the same
 * command left implicit (`kvmerge …`) does not pay. Its internal methods are the only way to say so.
 */
function skipHelpCache(parser: Argv): void {
  type Internals = {
    getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } };
  };
  const usage = (parser as Argv & Internals).getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => undefined;
}

/** yargs names an option without its dashes, by whichever alias was typed; say it the way users write it. */
function rewordYargsMessage(message: string, args: readonly string[]): string {
  const missing = /^Not enough arguments following: (.+)$/.exec(message);
  if (missing) return `${displayFlag(missing[1]!)} needs a value`;
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (unknown) {
    const typed = (form: string) => args.some((a) => a === form || a.startsWith(`${form}=`));
    const names = unknown[1]!
      .split(', ')
      .map((n) => (typed(`--${n}`) ? `--${n}` : n.length === 1 && typed(`-${n}`) ? `-${n}` : n));
    const known = [...Object.keys(VERIFY_OPTIONS), 'help', 'version'];
    const shown = names.map((n) => {
      const near = n.startsWith('--') ? nearestFlag(n.slice(2), known) : undefined;
      return near ? `${n} (did you mean --${near}?)` : n;
    });
    return `unknown ${names.length === 1 ? 'argument' : 'arguments'}: ${shown.join(', ')}`;
  }
  return message;
}

function displayFlag(name: string): string {
  for (const [long, options] of Object.entries(VERIFY_OPTIONS)) {
    const alias = typeof options.alias === 'string' ? options.alias : undefined;
    if (name === long || name === alias) return alias ? `-${alias}/--${long}` : `--${long}`;
  }
  return name.length === 1 ? `-${name}` : `--${name}`;
}
