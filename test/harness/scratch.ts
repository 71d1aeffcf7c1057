/**
 * Scratch files for the tests that write journals and config files: one directory per test file
 * (vitest gives each file its own module instance), and a new path for every call, so that no test
 * reads a file another one left.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir: string | undefined;
let n = 0;

/** A path no test has used yet in this file's scratch directory, ending in `name`. */
export function fresh(name: string): string {
  dir ??= mkdtempSync(join(tmpdir(), 'kvmerge-test-'));
  return join(dir, `${++n}-${name}`);
}
