// Bundles the CLI (dist/src/cli/main.js and every module it imports, dependencies included) into one
// CommonJS file, dist/cli/kvmerge.cjs, which bin/kvmerge.js loads (bin/load-cli.js), then writes V8's
// code cache for it beside it (scripts/code-cache.mjs). Run by `npm run build` after tsc.
//
// Why one file: node resolves, reads and compiles each of the ~370 files the CLI imports one by one,
// which took about 0.16 s of CPU and 0.12 s of wall time of every run's start-up (0.29 s wall from a
// run over two empty databases, 0.17 s bundled; issue 20). Why CommonJS: V8's code cache is given to a
// script (node:vm), which an ES module loaded by node cannot take on node 20; with it the same run
// takes 0.13 s. The library (dist/src/index.js) stays as tsc wrote it. Dynamic imports stay lazy: the
// modules of rollback, status, demo, metrics and bars are evaluated only when used. Dependencies'
// licence comments are kept at the end of the file.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist/cli', { recursive: true, force: true });
await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile: 'dist/cli/kvmerge.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // The modules that find files beside themselves (version.ts: package.json) ask import.meta.url,
  // which a CommonJS file does not have: the bundle's own URL stands in, as in an ES module bundle.
  define: { 'import.meta.url': 'kvmergeBundleUrl' },
  banner: { js: "const kvmergeBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  legalComments: 'eof',
  logLevel: 'warning',
});

// A child process: the cache holds what V8 compiled in a run started as a user starts kvmerge.
const cache = spawnSync(process.execPath, ['scripts/code-cache.mjs'], { encoding: 'utf8' });
if (cache.status !== 0) {
  process.stderr.write(cache.stderr);
  throw new Error(`scripts/code-cache.mjs failed (exit ${cache.status ?? cache.signal})`);
}
