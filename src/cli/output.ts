import { parseRedisUrl, redactSecrets, redactUrlsInText } from '../config/url.js';
import { passwordValues } from './env.js';

export interface OutputOptions {
  /** `--quiet`: nothing on stderr but errors. */
  quiet?: boolean;
  /** `--verbose`: stack traces with internal errors. */
  verbose?: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Its password variables (KVMERGE_TARGET_PASSWORD, …) are masked too; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Everything the CLI prints goes through here: results on stdout, messages on stderr, and every message
 * through the password filter (SPEC §4) as the last line of defence, whatever produced its text.
 */
export class Output {
  readonly quiet: boolean;
  readonly verbose: boolean;
  private readonly stdout: NodeJS.WritableStream;
  private readonly stderr: NodeJS.WritableStream;
  private readonly secrets = new Set<string>();
  /** With --progress-json: where stderr's lines go instead, as JSON events (so all of stderr is JSON). */
  private lines?: (message: string, level: 'log' | 'error') => void;

  constructor(opts: OutputOptions = {}) {
    this.quiet = opts.quiet ?? false;
    this.verbose = opts.verbose ?? false;
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
    for (const password of passwordValues(opts.env ?? process.env)) this.secrets.add(password);
  }

  /** Remembers the passwords of these URLs, so that no message can print them. Unparsable URLs are skipped. */
  addUrls(urls: Iterable<string>): void {
    for (const url of urls) {
      try {
        const { password, sentinel } = parseRedisUrl(url);
        if (password) this.secrets.add(password);
        if (sentinel?.password) this.secrets.add(sentinel.password);
      } catch {
        // A URL that does not parse is reported by the config loader, already masked.
      }
    }
  }

  /** Masks URL credentials and every known password in a text. */
  redact(text: string): string {
    return redactSecrets(redactUrlsInText(text), [...this.secrets]);
  }

  /** The same, applied to every string inside a JSON-like value (so the JSON stays valid). */
  redactDeep<T>(value: T): T {
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.redact(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      }
      return v;
    };
    return walk(value) as T;
  }

  /** A result (summary, JSON) on stdout, as is: the caller built it from redacted data. */
  result(text: string): void {
    this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Sends the stderr lines from now on to `sink` (redacted) instead: --progress-json's log and error events. */
  routeLines(sink: (message: string, level: 'log' | 'error') => void): void {
    this.lines = sink;
  }

  /** A status line on stderr, unless --quiet. */
  info(line: string): void {
    if (this.quiet) return;
    if (this.lines) this.lines(this.redact(line), 'log');
    else this.stderr.write(`${this.redact(line)}\n`);
  }

  /** `kvmerge: <message>` on stderr, always, on one line. */
  error(message: string): void {
    if (this.lines) this.lines(this.redact(oneLine(message)), 'error');
    else this.stderr.write(`kvmerge: ${this.redact(oneLine(message))}\n`);
  }

  /** `--json` when a run cannot start (SPEC §11): the error as JSON on stdout, so scripts always get JSON. */
  jsonError(message: string, exitCode: number): void {
    this.result(JSON.stringify({ error: this.redact(oneLine(message)), exitCode }));
  }

  /** An error that is a bug or an environment problem: one line, plus the stack with --verbose. */
  internalError(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.error(`internal error: ${message}`);
    if (this.verbose && err instanceof Error && err.stack) this.stderr.write(`${this.redact(err.stack)}\n`);
  }

  /** Whether stdout is a colour terminal (and NO_COLOR is not set). */
  stdoutIsColorTty(): boolean {
    const out = this.stdout as NodeJS.WriteStream;
    return out.isTTY === true && !process.env.NO_COLOR;
  }
}

/** Joins the lines of a message, so that every error is one line (SPEC §4). */
export function oneLine(message: string): string {
  return message
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('; ');
}
