// Bundles the CLI (dist/src/cli/main.js and every module it imports, dependencies included) into one
// file, dist/cli/kvmerge.mjs, which bin/kvmerge.js runs. Run by `npm run build` after tsc.
//
// Why: node resolves, reads and compiles each of the ~370 files the CLI imports one by one, which took
// about 0.16 s of CPU and 0.12 s of wall time of every run's start-up (0.29 s wall from a run over two
// empty databases, 0.17 s bundled; issue 20). The library (dist/src/index.js) stays as tsc wrote it.
// Dynamic imports stay lazy: the modules of rollback, status, demo, metrics and bars are evaluated only
// when used. Dependencies' licence comments are kept at the end of the file.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile: 'dist/cli/kvmerge.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // ioredis and other CommonJS dependencies call require() for node's own modules.
  banner: {
    js: "import { createRequire as kvmergeRequire } from 'node:module';\nconst require = kvmergeRequire(import.meta.url);",
  },
  legalComments: 'eof',
  logLevel: 'warning',
});
