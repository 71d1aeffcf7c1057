import { ConfigError } from '../common/errors.js';
import { positiveIntSchema } from '../config/schema.js';

/*
 * Reading yargs' parsed arguments: a flag that was not given stays undefined (so that the environment,
 * then the config file, apply), a value that cannot be what the flag needs is a usage error naming it.
 * `label` is how a value's origin is named in that error: `--batch`, or `KVMERGE_BATCH (--batch)` when
 * the environment gave it.
 */

export type Argv = Record<string, unknown>;
export type Labeller = (name: string) => string;
export const flagLabel: Labeller = (name) => `--${name}`;

/** A single-valued option; given twice is an error rather than a silent "last one wins". */
export function single(argv: Argv, name: string, label: Labeller = flagLabel): string | undefined {
  const value = argv[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    throw new ConfigError(label(name), 'given more than once; pass it once');
  }
  return String(value);
}

/** A repeatable option (`-s A -s B`), in the order given. */
export function list(argv: Argv, name: string): string[] | undefined {
  const value = argv[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value : [value]).map(String);
}

export function bool(argv: Argv, name: string): boolean | undefined {
  const value = argv[name];
  if (value === undefined) return undefined;
  // A switch repeated (`--dry-run --dry-run`) means the same as once.
  return Array.isArray(value) ? Boolean(value[value.length - 1]) : Boolean(value);
}

/** A count flag: the config schema checks the range, this only turns digits into a number. */
export function integer(argv: Argv, name: string, label: Labeller = flagLabel): number | undefined {
  const value = single(argv, name, label);
  if (value === undefined) return undefined;
  if (!/^\s*\d+\s*$/.test(value)) {
    throw new ConfigError(
      label(name),
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
