// Loads the bundled CLI (dist/cli/kvmerge.cjs, scripts/bundle-cli.mjs) with V8's code cache.
//
// Why: compiling the 1.9 MB bundle and the functions a run calls took about 40 ms of every run's start
// (a run over two empty databases 0.19 -> 0.15 s; a copy of 300,000 keys 0.11 s less CPU:
// docs/performance.md). `npm run build` writes the cache beside the bundle (scripts/code-cache.mjs),
// from a run of the bundle as a user starts it, so it ships in the package with the same trust as the
// code itself: nothing is written at run time, no per-user cache file. V8 refuses a cache made by
// another V8 version, with other V8 flags or for another source; the bundle is then compiled as
// without one (node 22's module.enableCompileCache would need no build step, but node 20 lacks it).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

export const BUNDLE = fileURLToPath(new URL('../dist/cli/kvmerge.cjs', import.meta.url));
export const CODE_CACHE = `${BUNDLE}.cache`;

/**
 * The CLI's exports and its compiled script (for scripts/code-cache.mjs), and what became of the
 * cache: 'accepted', 'rejected' (made by another node or for another bundle) or 'none'.
 */
export function loadCli() {
  const source = readFileSync(BUNDLE, 'utf8');
  let cachedData;
  try {
    cachedData = readFileSync(CODE_CACHE);
  } catch {
    // no cache (a build without it, or removed): compiled as without one
  }
  // The wrapper node itself puts around a CommonJS module.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE,
    cachedData,
  });
  const cache = cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted';
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  return { main: module.exports.main, script, cache };
}
