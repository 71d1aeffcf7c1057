import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

// CI's structure check (scripts/check-structure.mjs) must be able to fail: it is run here on small
// made-up trees with and without a cycle.
const script = join(import.meta.dirname, '../../scripts/check-structure.mjs');
const made: string[] = [];

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'kvmerge-structure-'));
  made.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function check(root: string): { code: number; output: string } {
  try {
    return { code: 0, output: execFileSync('node', [script, root], { encoding: 'utf8', stdio: 'pipe' }) };
  } catch (err) {
    const e = err as { status: number; stderr: string };
    return { code: e.status, output: e.stderr };
  }
}

afterEach(() => {
  for (const root of made.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('scripts/check-structure.mjs', () => {
  it('passes a layered tree', () => {
    const root = tree({
      'index.ts': "export { a } from './run/a.js';\n",
      'run/a.ts': "import { b } from '../servers/b.js';\nexport const a = b;\n",
      'servers/b.ts': 'export const b = 1;\n',
    });
    expect(check(root)).toMatchObject({ code: 0 });
  });

  it('names the files of a cycle, type-only imports included', () => {
    const root = tree({
      'run/a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
      'run/b.ts': "import { type A } from './a.js';\nexport type B = A | 1;\n",
    });
    const { code, output } = check(root);
    expect(code).toBe(1);
    expect(output).toContain('import cycle between files: run/a.ts ↔ run/b.ts');
  });

  it('names the folders of a cycle and the edges that make it', () => {
    const root = tree({
      'run/a.ts': "import { b } from '../write/b.js';\nexport const a = () => b;\n",
      'write/b.ts': "import { c } from '../run/c.js';\nexport const b = c;\n",
      'run/c.ts': 'export const c = 1;\n',
    });
    const { code, output } = check(root);
    expect(code).toBe(1);
    expect(output).toContain('import cycle between folders: run ↔ write');
    expect(output).toContain('write/b.ts → run/c.ts');
  });

  it('refuses a file over 400 lines', () => {
    const root = tree({ 'run/long.ts': 'export const x = 1;\n'.repeat(401) });
    const { code, output } = check(root);
    expect(code).toBe(1);
    expect(output).toContain('run/long.ts has 402 lines');
  });
});
