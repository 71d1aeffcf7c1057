/**
 * The kvmerge library as a process of its own, for the benchmark's `--runner child`: takes a config
 * document (the SPEC §3.1 shape, as JSON) in a file, runs the merge and prints the JSON report on stdout.
 * Exit code 0 when the run is done, 1 otherwise. The bench uses it when the CLI is not built yet; it
 * measures the same engine without the CLI's argument parsing and output.
 *
 *   node dist/bench/child.js plan.json
 */
import { readFileSync } from 'node:fs';
import { resolvePlan, runMerge } from '../src/index.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node dist/bench/child.js PLAN.json\n');
  process.exit(2);
}
const doc: unknown = JSON.parse(readFileSync(file, 'utf8'));
const plan = resolvePlan(doc, {}, process.env);
const report = await runMerge(plan, { log: (line) => process.stderr.write(`${line}\n`) });
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exitCode = report.outcome === 'done' ? 0 : 1;
