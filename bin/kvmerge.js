#!/usr/bin/env node
// The CLI as one bundled file (scripts/bundle-cli.mjs), loaded with V8's code cache (load-cli.js): it
// starts in less than half the time of dist/src/.
import { loadCli } from './load-cli.js';

loadCli()
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
