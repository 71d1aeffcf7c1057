import type { RdbKeyRecord } from '../rdb/file/index.js';
import { fileValueWindows } from '../sources/rdb-value-windows.js';
import type { NativeType } from '../types/strategy.js';
import { type Held, windowedOf } from '../types/verify.js';
import { fileError } from './file-errors.js';
import { WINDOW_BYTES, windowsFrom } from './windowed.js';

/**
 * A big value of an RDB file (over write.bigKeyBytes), read in windows from the file each time it is
 * walked (src/sources/rdb-value-windows.ts), never whole: the file side of a comparison in windows (windowed.ts), beside a RemoteValue
 * on a server. A file has no random access by field, so a lookup walks the value once and answers
 * every field asked: a comparison that looks up each window of the other side in it reads the value
 * once per such window (for a 200 MB hash and 4 MB windows, ~50 walks of it). Memory: a window, and
 * the fields asked with their answers.
 */

export class FileValue implements Held {
  private constructor(
    readonly type: NativeType,
    readonly size: number,
    /** The source's name, for a message on damage found in the file while it is walked. */
    private readonly source: string,
    private readonly path: string,
    private readonly record: RdbKeyRecord,
  ) {}

  /** Walks the value once to count its elements (a string: bytes), as the other sides give theirs. */
  static async open(
    type: NativeType,
    source: string,
    path: string,
    record: RdbKeyRecord,
  ): Promise<FileValue> {
    const counting = new FileValue(type, 0, source, path, record);
    let size = 0;
    for await (const window of counting.read()) size += windowedOf(type).windowSize(window);
    return new FileValue(type, size, source, path, record);
  }

  windows(from = 0): AsyncGenerator<unknown[]> {
    return windowsFrom(this.type, this.read(), from);
  }

  /** The value's windows as the file holds them; damage found in the file is exit 2 naming the source. */
  private async *read(): AsyncGenerator<Buffer[]> {
    try {
      yield* fileValueWindows(this.path, this.record, { windowBytes: WINDOW_BYTES });
    } catch (err) {
      throw fileError(this.source, err);
    }
  }

  async lookup(fields: Buffer[]): Promise<(Buffer | null)[]> {
    const split = windowedOf(this.type).split;
    if (fields.length === 0 || !split) return fields.map(() => null);
    const wanted = new Map<string, Buffer | null>(fields.map((f) => [f.toString('latin1'), null]));
    for await (const window of this.windows()) {
      const { fields: names, values } = split(window as Buffer[]);
      names.forEach((name, i) => {
        const id = name.toString('latin1');
        if (wanted.has(id)) wanted.set(id, values[i]!);
      });
    }
    return fields.map((f) => wanted.get(f.toString('latin1')) ?? null);
  }
}
