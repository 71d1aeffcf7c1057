import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { OPTION_FIELDS } from '../../src/cli/option-defaults.js';
import { MERGE_OPTIONS, VERIFY_OPTIONS } from '../../src/cli/options.js';
import { ROLLBACK_OPTIONS } from '../../src/cli/rollback-options.js';
import { resolvePlan } from '../../src/config/load.js';
import { CONFIG_DEFAULTS } from '../../src/config/schema.js';

// The README and docs/ are what a new user follows: these checks keep them true to the code (every
// flag they name exists, every link lands) and keep the README one page.
const ROOT = join(import.meta.dirname, '../..');
const DOCS = join(ROOT, 'docs');
const docFiles = [
  join(ROOT, 'README.md'),
  ...readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(DOCS, f)),
];
const read = (file: string): string => readFileSync(file, 'utf8');
const name = (file: string): string => relative(ROOT, file);

/** The text outside fenced code blocks (``` … ```), line by line; code lines become empty. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').map((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes; repeats get -1, -2. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(text)) {
    const m = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every Markdown link target `[text](target)` outside code, with its line number. */
function links(text: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  prose(text).forEach((line, i) => {
    // Inline code may hold brackets and parentheses that are not links.
    const plain = line.replace(/`[^`]*`/g, '``');
    for (const m of plain.matchAll(/\]\(([^)\s]+)\)/g)) out.push({ target: m[1]!, line: i + 1 });
  });
  return out;
}

/** A problem with one link, or undefined when it lands on a file (and heading) that exist. */
function brokenLink(from: string, target: string): string | undefined {
  if (/^[a-z]+:/i.test(target)) return undefined; // https:, mailto:: not ours to check
  const [path, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = path === '' ? from : resolve(dirname(from), path);
  if (!existsSync(file)) return `${target}: no such file`;
  if (anchor === undefined) return undefined;
  if (statSync(file).isDirectory() || !file.endsWith('.md'))
    return `${target}: an anchor into a non-Markdown file`;
  return anchors(read(file)).has(anchor) ? undefined : `${target}: no heading with the anchor #${anchor}`;
}

// Flags the docs mention that belong to other programs, each checked where it can be.
const BENCH_SOURCES = ['bench/options.ts', 'bench/follow.ts', 'bench/rdb-file.ts', 'bench/rdb-source.ts']
  .map((f) => read(join(ROOT, f)))
  .join('\n');
const OTHER_FLAGS: Record<string, (flag: string) => boolean> = {
  // npm run bench and bench/rdb-file.ts: their own option parsers (and the server flags they pass).
  bench: (flag) =>
    BENCH_SOURCES.includes(`--${flag}`) || new RegExp(`\\b'?${flag}'?: \\{`).test(BENCH_SOURCES),
  // node's and V8's flags (NODE_OPTIONS; the heap and GC flags performance.md measured), redis-cli --pipe
  // (the bench's ceiling), valgrind --tool (a profile in performance.md), and the README's example of a
  // mistyped flag.
  other: (flag) =>
    [
      'max-old-space-size',
      'max-semi-space-size',
      'min-semi-space-size',
      'expose-gc',
      'heap-growing-percent',
      'single-threaded-gc',
      'trace-gc',
      'pipe',
      'tool',
      'dryrun',
    ].includes(flag),
};

const CLI_FLAGS = new Set([
  ...Object.keys(MERGE_OPTIONS),
  ...Object.keys(VERIFY_OPTIONS),
  ...Object.keys(ROLLBACK_OPTIONS),
  'help',
  'version',
]);

/** Every `--flag` a file names, code blocks included (an example must run too). */
function flagsIn(text: string): Set<string> {
  return new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
}

describe('the README and docs/', () => {
  it('the README is one page: at most 350 lines', () => {
    const lines = read(join(ROOT, 'README.md')).trimEnd().split('\n').length;
    expect(lines).toBeLessThanOrEqual(350);
  });

  it('every relative link lands on a file, and every #anchor on a heading', () => {
    const broken: string[] = [];
    for (const file of docFiles) {
      for (const { target, line } of links(read(file))) {
        const why = brokenLink(file, target);
        if (why) broken.push(`${name(file)}:${line}: ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the README links every file of docs/', () => {
    const linked = new Set(
      links(read(join(ROOT, 'README.md'))).map(({ target }) => resolve(ROOT, target.split('#')[0]!)),
    );
    const unlinked = docFiles.filter((f) => f.startsWith(DOCS) && !linked.has(f)).map(name);
    expect(unlinked).toEqual([]);
  });

  it('every --flag they name exists in the CLI (or in the program it belongs to)', () => {
    const unknown: string[] = [];
    for (const file of docFiles) {
      for (const flag of flagsIn(read(file))) {
        if (CLI_FLAGS.has(flag)) continue;
        if (Object.values(OTHER_FLAGS).some((owns) => owns(flag))) continue;
        unknown.push(`${name(file)}: --${flag}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it("the README's flag table gives each default the configuration schema has", () => {
    // The flag → the config field it sets (the table --help reads too); its default is the schema's.
    // Switches are left out: the table says off, not false.
    const defaultOf = (path: string): unknown =>
      path.split('.').reduce<unknown>((node, k) => (node as Record<string, unknown>)[k], CONFIG_DEFAULTS);
    const fields = Object.entries(OPTION_FIELDS).filter(([, path]) => typeof defaultOf(path) !== 'boolean');
    const documented = new Map<string, string>();
    for (const line of read(join(ROOT, 'README.md')).split('\n')) {
      const row = /^\| `--([a-z-]+)[^|]*\| `([^`]+)` \|/.exec(line);
      if (row) documented.set(row[1]!, row[2]!);
    }
    const wrong: string[] = [];
    for (const [flag, path] of fields) {
      const value = defaultOf(path);
      if (documented.get(flag) !== String(value)) {
        wrong.push(
          `--${flag}: README says ${documented.get(flag) ?? 'nothing'}, the schema ${String(value)}`,
        );
      }
    }
    expect(wrong).toEqual([]);
  });

  it('every file of the repository they name in code (`src/…`, `test/…`) exists', () => {
    const missing: string[] = [];
    for (const file of docFiles) {
      for (const m of read(file).matchAll(/`((?:src|test|bench|scripts|\.ci)\/[^`\s]*)`/g)) {
        if (!existsSync(join(ROOT, m[1]!))) missing.push(`${name(file)}: ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every YAML configuration they show is valid', () => {
    const blocks = docFiles.flatMap((file) =>
      [...read(file).matchAll(/^```yaml\n([\s\S]*?)^```/gm)].map((m) => ({ file, yaml: m[1]! })),
    );
    expect(blocks.length).toBeGreaterThan(0);
    for (const { file, yaml } of blocks) {
      expect(() => resolvePlan(parseYaml(yaml), {}, {}), name(file)).not.toThrow();
    }
  });

  it('cite no SPEC section (SPEC is not in the repository)', () => {
    const files = [...docFiles, join(ROOT, 'config.example.yaml'), join(ROOT, 'docker-compose.test.yml')];
    const citing = files.filter((f) => /\bSPEC\b/.test(read(f))).map(name);
    expect(citing).toEqual([]);
  });
});

describe('config.example.yaml and docker-compose.test.yml', () => {
  const port = (url: string): number => Number(new URL(url).port || 6379);
  const example = parseYaml(read(join(ROOT, 'config.example.yaml'))) as {
    sources: { url: string }[];
    target: { url: string };
  };
  const compose = parseYaml(read(join(ROOT, 'docker-compose.test.yml')), { merge: true }) as {
    services: Record<string, { ports?: string[] }>;
  };
  // "127.0.0.1:6381:6379": the port published on the host is the middle one.
  const published = (service: string): number[] =>
    (compose.services[service]?.ports ?? []).map((p) => Number(p.split(':').at(-2)));
  const composeSources = Object.keys(compose.services)
    .filter((s) => s.startsWith('source-'))
    .flatMap(published);

  it("the example's target is compose's target", () => {
    expect(published('target')).toEqual([port(example.target.url)]);
  });

  it("the example's sources are compose's sources", () => {
    expect(composeSources.length).toBeGreaterThan(0);
    expect(example.sources.map((s) => port(s.url)).sort()).toEqual([...composeSources].sort());
  });
});
