import type { Options } from 'yargs';
import { ConfigError } from '../common/errors.js';

/** The options of `kvmerge status` (SPEC §11): which journal, and JSON instead of text. */
export const STATUS_OPTIONS: Record<string, Options> = {
  backup: {
    type: 'string',
    requiresArg: true,
    describe: 'FILE: the journal to summarize (default: list the runs in the state directory)',
  },
  json: { type: 'boolean', describe: 'print the summary (or the listing) as JSON on stdout' },
};

export interface StatusFlags {
  backup?: string;
  json: boolean;
}

export function readStatusFlags(argv: Record<string, unknown>): StatusFlags {
  const backup = argv.backup;
  if (Array.isArray(backup)) throw new ConfigError('--backup', 'given more than once; pass it once');
  const json = Array.isArray(argv.json) ? argv.json.at(-1) : argv.json;
  return { ...(backup !== undefined ? { backup: String(backup) } : {}), json: Boolean(json) };
}
