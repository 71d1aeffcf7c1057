/**
 * Errors a user sees. Each carries the exit code of SPEC §4 and a one-line message that names
 * the culprit and suggests the fix. Messages never contain a password (see config/url.ts).
 */
export class KvmergeError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** A bad configuration value or flag; `field` is its dotted path (`strategies.string`). Exit 2. */
export class ConfigError extends KvmergeError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(field ? `${field}: ${message}` : message, 2);
    this.field = field;
  }
}

/** A server that cannot be reached, refuses our credentials or is unsuitable, found before any write. Exit 2. */
export class ConnectionError extends KvmergeError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** The run stopped part-way (a typeMismatch `fail`, a write the target refused, a lost server). Exit 1. */
export class RunError extends KvmergeError {
  constructor(message: string) {
    super(message, 1);
  }
}
