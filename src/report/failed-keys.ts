import { type FileHandle, open } from 'node:fs/promises';
import { ConfigError } from '../common/errors.js';

/** One failed key, as a line of `--failed-keys FILE` (SPEC §6.4). */
export interface FailedKey {
  key: Buffer;
  source: string;
  type: string;
  reason: string;
}

// fatal: a key that is not valid UTF-8 goes as keyBase64 (SPEC §5.3), never with U+FFFD in it.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The JSON line of a failed key: `{"key"|"keyBase64", "source", "type", "reason"}`. */
export function failedKeyLine(f: FailedKey): string {
  let key: { key: string } | { keyBase64: string };
  try {
    key = { key: strictUtf8.decode(f.key) };
  } catch {
    key = { keyBase64: f.key.toString('base64') };
  }
  return `${JSON.stringify({ ...key, source: f.source, type: f.type, reason: f.reason })}\n`;
}

/**
 * The `--failed-keys` file: created (truncated) before the run connects anywhere, so that a path that
 * cannot be written is exit 2 before anything happens; one line appended per failed key, in order.
 */
export class FailedKeysFile {
  private chain: Promise<unknown> = Promise.resolve();
  private error?: Error;

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
  ) {}

  static async create(path: string): Promise<FailedKeysFile> {
    try {
      return new FailedKeysFile(await open(path, 'w'), path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError('--failed-keys', `cannot write ${path} (${code ?? err}); pick another path`);
    }
  }

  add(f: FailedKey): void {
    const line = failedKeyLine(f);
    this.chain = this.chain.then(() =>
      this.handle.appendFile(line).catch((err: Error) => {
        this.error ??= err;
      }),
    );
  }

  /** Waits for every line, closes the file; resolves to a write error, if any. */
  async close(): Promise<Error | undefined> {
    await this.chain;
    await this.handle.close().catch(() => undefined);
    return this.error;
  }
}
