// Every test process gets a fresh kvmerge state directory (SPEC §6.2), inherited by the CLI processes
// the tests start: the default journal never lands in the user's home, and one test file's runs never
// meet another's (the rerun guard of §6.3 looks there).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

process.env.KVMERGE_STATE_DIR = mkdtempSync(join(tmpdir(), 'kvmerge-state-'));

const dir = process.env.KVMERGE_STATE_DIR;
// Test workers are not always let run their exit handlers: the directory goes with the file's last hook.
afterAll(() => rmSync(dir, { recursive: true, force: true }));
