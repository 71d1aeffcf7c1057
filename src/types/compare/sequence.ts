import type { Held, Mismatch } from './held.js';

/**
 * Walking two values element by element, a window of each at a time: the comparison of the types
 * whose value is a sequence (list, stream, a string's chunks).
 */

/** Where two sequences first differ: the index, and the element on each side (undefined: ended). */
export interface ZipMismatch {
  index: number;
  expected: unknown;
  found: unknown;
}

/**
 * Walks two windowed sequences side by side; the first index where they differ (one ending early
 * included), or null. `prefix`: only `expected` must be exhausted (found may go on).
 */
export async function zip(
  expected: AsyncGenerator<unknown[]>,
  found: AsyncGenerator<unknown[]>,
  same: (a: unknown, b: unknown) => boolean,
  prefix = false,
): Promise<ZipMismatch | null> {
  const a = new Cursor(expected);
  const b = new Cursor(found);
  try {
    for (let index = 0; ; index++) {
      const x = await a.next();
      if (x === undefined && prefix) return null;
      const y = await b.next();
      if (x === undefined && y === undefined) return null;
      if (x === undefined || y === undefined || !same(x, y)) return { index, expected: x, found: y };
    }
  } finally {
    await Promise.all([expected.return(undefined), found.return(undefined)]);
  }
}

/** One element at a time out of a windowed sequence (one window held). */
class Cursor {
  private window: unknown[] = [];
  private at = 0;
  constructor(private readonly source: AsyncGenerator<unknown[]>) {}
  async next(): Promise<unknown> {
    while (this.at >= this.window.length) {
      const step = await this.source.next();
      if (step.done) return undefined;
      this.window = step.value;
      this.at = 0;
    }
    return this.window[this.at++];
  }
}

/** The elements of several values one after another, window by window. */
export async function* concat(values: Held[]): AsyncGenerator<unknown[]> {
  for (const v of values) yield* v.windows();
}

/** The mismatch at one element: `whole` says what was expected ("a list with"), `show` one element. */
export function itemMismatch(whole: string, at: ZipMismatch, show: (item: unknown) => string): Mismatch {
  const where = `at [${at.index}]`;
  const shown = (item: unknown): string => (item === undefined ? 'nothing' : show(item));
  return { expected: `${whole} ${shown(at.expected)} ${where}`, found: `${shown(at.found)} ${where}` };
}
