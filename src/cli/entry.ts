/**
 * Runs the CLI from source (`node --import tsx src/cli/entry.ts …`); bin/kvmerge.js does the same from
 * the bundle that `npm run build` makes of dist/ (dist/cli/kvmerge.cjs, scripts/bundle-cli.mjs).
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
