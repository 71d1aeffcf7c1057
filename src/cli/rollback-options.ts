import type { Options } from 'yargs';
import { ConfigError } from '../common/errors.js';
import type { PasswordOverrides } from '../config/flags.js';
import { type Argv, bool, single as singleValue } from './argv.js';
import {
  type DisplayFlags,
  flag,
  labeller,
  MERGE_OPTIONS,
  OUTPUT,
  RUN,
  SOURCES,
  text,
  withDefaults,
} from './options.js';

/** The options of `kvmerge rollback` (SPEC §4, §6.2). */
export const ROLLBACK_OPTIONS: Record<string, Options> = withDefaults(
  {
    backup: text('FILE: the journal that `merge --backup FILE` wrote', SOURCES),
    target: {
      ...text("URL: the run's target", SOURCES),
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
  },
  { backup: null, target: "the journal's (which holds no password)" },
);

export interface RollbackFlags {
  /** The target's password from the environment (KVMERGE_TARGET_PASSWORD, REDISCLI_AUTH). */
  passwords?: PasswordOverrides;
  backup: string;
  target?: string;
  dryRun: boolean;
  tls: { ca?: string; cert?: string; key?: string; insecure: boolean };
  display: DisplayFlags;
}

export function readRollbackFlags(argv: Argv, origins: Record<string, string> = {}): RollbackFlags {
  const label = labeller(origins);
  const single = (name: string) => singleValue(argv, name, label);
  const target = single('target');
  const backup = single('backup');
  if (backup === undefined) {
    throw new ConfigError(
      '--backup',
      'is required: give the journal that `kvmerge merge --backup FILE` wrote',
    );
  }
  const tls = {
    ca: single('tls-ca'),
    cert: single('tls-cert'),
    key: single('tls-key'),
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
