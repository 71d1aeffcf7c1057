/** Runs the CLI from source (`node --import tsx src/cli/entry.ts …`); bin/kvmerge.js does the same from dist/. */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
