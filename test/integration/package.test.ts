/**
 * What `npm pack` ships (issue 18, packaging): the CLI and the library, their licence, no benchmark and
 * no source maps that point at a src/ which is not shipped; and an `engines` range no wider than what
 * the dependencies themselves need.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const json = (path: string): Record<string, unknown> => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));

it('npm pack ships bin, dist/src, dist/cli, the example config, docs/ (the README links it) and LICENSE; no dist/bench, no source map, no test launcher', () => {
  // --ignore-scripts: the files list is what matters, and the build it would run is the CI's own step.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  expect(files).toContain('LICENSE');
  expect(files).toContain('bin/kvmerge.js');
  // The CLI that bin/kvmerge.js runs: one bundled file (scripts/bundle-cli.mjs), built by npm run build,
  // and V8's code cache of it (scripts/code-cache.mjs), loaded by bin/load-cli.js.
  expect(files).toContain('dist/cli/kvmerge.cjs');
  expect(files).toContain('dist/cli/kvmerge.cjs.cache');
  expect(files).toContain('bin/load-cli.js');
  expect(files).toContain('config.example.yaml');
  expect(files).toContain('docs/safety.md');
  expect(files.filter((f) => f.startsWith('dist/bench/'))).toEqual([]);
  expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
  // The from-source launcher of the tests (node --import tsx src/cli/entry.ts): bin/kvmerge.js is the CLI.
  expect(files.filter((f) => f.startsWith('dist/src/cli/entry.'))).toEqual([]);
  expect(files.every((f) => !f.startsWith('src/') && !f.startsWith('test/'))).toBe(true);
}, 60_000);

it('engines.node is what yargs, the narrowest dependency, requires', () => {
  const engines = json('package.json').engines as { node: string };
  const yargs = json('node_modules/yargs/package.json').engines as { node: string };
  expect(engines.node).toBe(yargs.node);
  expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
});

/** What became of the code cache when the CLI bundle is loaded by a node started with `flags`. */
const cacheWith = (flags: string[]): string =>
  execFileSync(
    process.execPath,
    [
      ...flags,
      '--input-type=module',
      '-e',
      "import { loadCli } from './bin/load-cli.js'; console.log(loadCli().cache)",
    ],
    { cwd: ROOT, encoding: 'utf8' },
  ).trim();

it('the CLI bundle starts with the code cache npm run build wrote for this node; with other V8 flags V8 refuses it and the CLI runs as without one', () => {
  expect(cacheWith([])).toBe('accepted');
  // A cache made under other V8 flags is refused by V8 itself (its flag hash), never run.
  expect(cacheWith(['--max-old-space-size=4096'])).toBe('rejected');
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
  const run = (flags: string[]): string =>
    execFileSync(process.execPath, [...flags, 'bin/kvmerge.js', '--version'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
  expect(run([])).toBe(version);
  expect(run(['--max-old-space-size=4096'])).toBe(version);
}, 30_000);
