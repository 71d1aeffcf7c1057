// The wording of configuration errors: a field's path, a schema issue, a value shown safely.
import type * as z from 'zod';
import { ConfigError } from '../common/errors.js';
import { describeField, fieldNamesAt, type PathPart } from './schema.js';
import { redactUrlsInText } from './url.js';

/** `sources[0].url`: a path as the user writes the field. */
export function formatPath(path: readonly PathPart[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** A schema issue as a ConfigError: an unknown field (with the nearest accepted name), or a bad value. */
export function issueToError(issue: z.core.$ZodIssue): ConfigError {
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

/** A value for a message: a short, redacted string, or its kind. */
export function renderValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value !== 'string') return String(value);
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(redactUrlsInText(shown));
}
