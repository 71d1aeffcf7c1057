#!/usr/bin/env node
// The layout's rules that a machine can check (DESIGN.md, "Target layout"), run by CI:
// - no import cycle between files of src/, and none between its folders (imports point down the
//   layers and never back);
// - no source file over 400 lines.
// Type-only imports count too: they vanish at run time, but a cycle of them is the same knot for a
// reader. Own code, not madge: it is 60 lines with no dependency, and it reports folders as well.
// Usage: node scripts/check-structure.mjs [dir]   (default: src). Exit 0 when every rule holds, 1 otherwise.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const MAX_LINES = 400;
const root = resolve(process.argv[2] ?? 'src');

const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
  }
})(root);

const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?[^'";]*?from\s+['"](\.[^'"]+)['"]/g;
/** file → the files of `root` it imports. */
const imports = new Map();
for (const file of files) {
  const targets = new Set();
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    let target = resolve(dirname(file), m[1]).replace(/\.js$/, '.ts');
    if (!target.endsWith('.ts'))
      target = existsSync(`${target}.ts`) ? `${target}.ts` : join(target, 'index.ts');
    if (target !== file && files.includes(target)) targets.add(target);
  }
  imports.set(file, targets);
}

/** Strongly connected components of more than one node (Tarjan): each is a cycle. */
function cycles(nodes, next) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (v) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component);
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return found;
}

const name = (file) => relative(root, file);
// A file at the root of src/ (index.ts, the public API) sits above every folder: it is its own layer.
const folderOf = (file) => (name(file).includes(sep) ? name(file).split(sep)[0] : name(file));
const folders = [...new Set(files.map(folderOf))];
const folderImports = new Map(folders.map((f) => [f, new Set()]));
for (const [file, targets] of imports)
  for (const target of targets)
    if (folderOf(target) !== folderOf(file)) folderImports.get(folderOf(file)).add(folderOf(target));

const problems = [];
for (const cycle of cycles(files, (f) => imports.get(f)))
  problems.push(`import cycle between files: ${cycle.map(name).sort().join(' ↔ ')}`);
for (const cycle of cycles(folders, (f) => folderImports.get(f))) {
  const members = new Set(cycle);
  const edges = [];
  for (const [file, targets] of imports)
    for (const target of targets)
      if (members.has(folderOf(file)) && members.has(folderOf(target)) && folderOf(file) !== folderOf(target))
        edges.push(`${name(file)} → ${name(target)}`);
  problems.push(`import cycle between folders: ${cycle.sort().join(' ↔ ')} (edges: ${edges.join(', ')})`);
}
for (const file of files) {
  const lines = readFileSync(file, 'utf8').split('\n').length;
  if (lines > MAX_LINES)
    problems.push(`${name(file)} has ${lines} lines (at most ${MAX_LINES}): split it by job`);
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(
  `structure: ${files.length} files in ${folders.length} folders, no import cycle, none over ${MAX_LINES} lines`,
);
