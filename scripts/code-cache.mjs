// Writes V8's code cache of the CLI bundle (dist/cli/kvmerge.cjs.cache), which bin/load-cli.js gives
// V8 at every start. Run by scripts/bundle-cli.mjs, as a process of its own and without node flags:
// V8 takes a cache only from the same V8 version with the same flags.
//
// The cache holds every function compiled when it is written: the bundle's top level, then a merge's
// command line, configuration, plan and connecting, up to the refused connection of a target that is
// not there (port 1 of the loopback interface; it never reaches a server). What a run compiles later
// is compiled at run time, as without a cache. Its one line of error goes nowhere.
import { writeFileSync } from 'node:fs';
import { CODE_CACHE, loadCli } from '../bin/load-cli.js';

const { main, script } = loadCli();
process.stderr.write = () => true;
const run = main([
  'merge',
  '-s',
  'redis://127.0.0.1:1',
  '-t',
  'redis://127.0.0.1:1/1',
  '--no-backup',
  '--no-progress',
  '--dry-run',
]);
// Its outcome does not matter (exit 2 where, as meant, nothing listens there), only what it compiled;
// a dry run writes nothing wherever it gets, and the cache is written after 10 s whatever it does.
await Promise.race([run, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
writeFileSync(CODE_CACHE, script.createCachedData());
process.exit(0);
