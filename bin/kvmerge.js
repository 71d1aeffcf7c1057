#!/usr/bin/env node
// The CLI as one bundled file (scripts/bundle-cli.mjs), loaded with V8's code cache (load-cli.js): it
// starts in about half the time of dist/src/ (docs/performance.md).
import { loadCli } from './load-cli.js';

loadCli()
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
