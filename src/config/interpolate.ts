import { ConfigError } from '../common/errors.js';
import { formatPath } from './messages.js';
import type { PathPart } from './schema.js';

/** Replaces `${VAR}` in every string value (not in keys); `$${` stands for a literal `${`. Drops null values. */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: PathPart[]): unknown {
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
