import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  optionsFromEnv,
  passwordsFromEnv,
  RESERVED_VARIABLES,
  unknownVariables,
  variableFor,
} from '../../src/cli/env.js';
import { MERGE_OPTIONS } from '../../src/cli/options.js';
import { Output } from '../../src/cli/output.js';
import { parseCommandLine } from '../../src/cli/parser.js';
import { ConfigError } from '../../src/common/errors.js';
import { resolvePlan } from '../../src/config/load.js';
import type { MergePlan } from '../../src/config/plan.js';
import { parseRedisUrl, withPassword } from '../../src/config/url.js';

// Options and passwords from the environment: precedence flag > environment > config file > default.

const A = 'redis://127.0.0.1:6379/0';
const B = 'redis://127.0.0.1:6380/0';
const T = 'redis://127.0.0.1:6381/0';

async function planOf(args: string[], env: NodeJS.ProcessEnv, doc: unknown = {}): Promise<MergePlan> {
  const command = await parseCommandLine(args, env);
  if (command.kind !== 'merge') throw new Error(`parsed as ${command.kind}`);
  return resolvePlan(doc, command.flags.overrides, {});
}

async function errorOf(args: string[], env: NodeJS.ProcessEnv, doc: unknown = {}): Promise<ConfigError> {
  const err = await planOf(args, env, doc).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).exitCode).toBe(2);
  return err as ConfigError;
}

const passwordOf = (url: string): string | undefined => parseRedisUrl(url).password;

describe('the environment variable of an option', () => {
  it('is KVMERGE_ and the name in capitals, dashes as underscores', () => {
    expect(variableFor('target')).toBe('KVMERGE_TARGET');
    expect(variableFor('on-conflict')).toBe('KVMERGE_ON_CONFLICT');
    expect(variableFor('no-backup')).toBe('KVMERGE_NO_BACKUP');
  });

  it('fills only what the command line left out, and says where each value came from', () => {
    const env = { KVMERGE_TARGET: T, KVMERGE_BATCH: '5', KVMERGE_MATCH: '' };
    const { argv, origins } = optionsFromEnv({ batch: '9' }, MERGE_OPTIONS, env);
    expect(argv).toEqual({ batch: '9', target: T });
    expect(origins).toEqual({ target: 'KVMERGE_TARGET' });
  });

  it('a repeatable option takes a whitespace-separated list', () => {
    const { argv } = optionsFromEnv({}, MERGE_OPTIONS, {
      KVMERGE_SOURCE: ` ${A}\n ${B} `,
      KVMERGE_PREFIX: 'a: b:',
    });
    expect(argv.source).toEqual([A, B]);
    expect(argv.prefix).toEqual(['a:', 'b:']);
  });

  it.each([
    ['1', true],
    ['true', true],
    ['TRUE', true],
    ['0', false],
    ['false', false],
  ])('a switch takes %s', (text, value) => {
    expect(optionsFromEnv({}, MERGE_OPTIONS, { KVMERGE_DRY_RUN: text }).argv['dry-run']).toBe(value);
  });

  it('a switch refuses anything else, naming the variable', () => {
    expect(() => optionsFromEnv({}, MERGE_OPTIONS, { KVMERGE_DRY_RUN: 'yes' })).toThrow(
      'KVMERGE_DRY_RUN: "yes" is not valid; accepted: 1 | 0 | true | false',
    );
  });
});

describe('precedence: flag > environment > config file > default', () => {
  const doc = { sources: [{ url: A }], target: { url: T }, write: { concurrency: 3, batchSize: 7 } };

  it('for each level', async () => {
    const env = { KVMERGE_CONCURRENCY: '4', KVMERGE_BATCH: '11', KVMERGE_SCAN_COUNT: '50' };
    const plan = await planOf(['--concurrency', '5'], env, doc);
    expect(plan.write.concurrency).toBe(5); // flag over environment
    expect(plan.write.batchSize).toBe(11); // environment over file
    expect(plan.write.scanCount).toBe(50); // environment over default
    expect(plan.write.mode).toBe('auto'); // default
    expect((await planOf([], {}, doc)).write.batchSize).toBe(7); // file over default
  });

  it('sources and target from the environment replace the file’s', async () => {
    const plan = await planOf(
      [],
      { KVMERGE_SOURCE: `${A} ${B}`, KVMERGE_TARGET: 'redis://127.0.0.1:7000/1' },
      doc,
    );
    expect(plan.sources.map((s) => s.url)).toEqual([A, B]);
    expect(plan.target.url).toBe('redis://127.0.0.1:7000/1');
  });

  it('strategies and switches too', async () => {
    const env = { KVMERGE_ON_CONFLICT: 'override', KVMERGE_DRY_RUN: '1', KVMERGE_HASH_FIELD: 'target' };
    const plan = await planOf(['--hash', 'merge'], env, doc);
    expect(plan.strategies.string).toBe('override');
    expect(plan.strategies.hash).toBe('merge');
    expect(plan.dryRun).toBe(true);
    expect(plan.merge.hashField).toBe('target');
    expect((await planOf(['--dry-run=false'], env, { ...doc, dryRun: true })).dryRun).toBe(false);
  });

  it('a bad value from the environment names the variable and its flag', async () => {
    expect((await errorOf([], { KVMERGE_BATCH: 'lots' }, doc)).message).toMatch(
      /^KVMERGE_BATCH \(--batch\): "lots" is not valid/,
    );
    expect((await errorOf([], { KVMERGE_ON_CONFLICT: 'win' }, doc)).message).toBe(
      'KVMERGE_ON_CONFLICT (--on-conflict): "win" is not valid; accepted: override | merge | skip',
    );
    expect((await errorOf([], { KVMERGE_BATCH: '100001' }, doc)).message).toMatch(
      /^KVMERGE_BATCH \(--batch\): 100001 is not valid; accepted: a positive integer up to 100,000/,
    );
  });
});

describe('passwords from the environment', () => {
  it('KVMERGE_TARGET_PASSWORD and KVMERGE_SOURCE_<N>_PASSWORD (from 1) go to their servers', async () => {
    const env = { KVMERGE_TARGET_PASSWORD: 't-pw', KVMERGE_SOURCE_2_PASSWORD: 'b pw@/:' };
    const plan = await planOf(['-s', A, '-s', B, '-t', T], env);
    expect(passwordOf(plan.target.url)).toBe('t-pw');
    expect(passwordOf(plan.sources[0]!.url)).toBeUndefined();
    expect(passwordOf(plan.sources[1]!.url)).toBe('b pw@/:');
    // The rest of the URL is untouched.
    expect(parseRedisUrl(plan.sources[1]!.url)).toMatchObject({ host: '127.0.0.1', port: 6380, db: 0 });
  });

  it("the explicit variable wins over the URL's own password, which wins over REDISCLI_AUTH", async () => {
    const env = { KVMERGE_TARGET_PASSWORD: 'explicit', REDISCLI_AUTH: 'fallback' };
    const plan = await planOf(
      ['-s', 'redis://:own@127.0.0.1:6379/0', '-s', B, '-t', 'redis://u:url@127.0.0.1:6381/0'],
      env,
    );
    expect(parseRedisUrl(plan.target.url)).toMatchObject({ username: 'u', password: 'explicit' });
    expect(passwordOf(plan.sources[0]!.url)).toBe('own');
    expect(passwordOf(plan.sources[1]!.url)).toBe('fallback');
  });

  it('a password for a source that does not exist is refused', async () => {
    const err = await errorOf(['-s', A, '-t', T], { KVMERGE_SOURCE_2_PASSWORD: 'x' });
    expect(err.message).toMatch(/^KVMERGE_SOURCE_2_PASSWORD: there are 1 source\(s\); N in/);
  });

  it('empty variables count as unset', () => {
    expect(passwordsFromEnv({ KVMERGE_TARGET_PASSWORD: '', REDISCLI_AUTH: '' })).toEqual({});
  });

  it('no output shows them, whatever prints them', () => {
    let written = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        written += String(chunk);
        done();
      },
    });
    const env = {
      KVMERGE_TARGET_PASSWORD: 'tgt-secret',
      KVMERGE_SOURCE_1_PASSWORD: 's1-secret',
      REDISCLI_AUTH: 'cli-secret',
    };
    const out = new Output({ stdout: sink, stderr: sink, env });
    out.info('tgt-secret s1-secret cli-secret');
    out.error('auth failed with cli-secret');
    out.result(out.redact('tgt-secret'));
    expect(written).not.toMatch(/secret/);
    expect(written).toContain('***');
  });
});

describe('withPassword: a URL given its password apart', () => {
  it.each([
    ['redis://127.0.0.1:6379/2', { host: '127.0.0.1', port: 6379, db: 2 }],
    ['redis://:old@127.0.0.1:6379', { host: '127.0.0.1', port: 6379 }],
    ['rediss://alice:old@db.example.com:6380/1', { username: 'alice', tls: true, db: 1 }],
    ['redis://alice:@[::1]:7000', { username: 'alice', host: '::1', port: 7000 }],
    [
      'redis+sentinel://s1:26379,s2:26380/main/3?sentinelPassword=sp',
      { db: 3, sentinel: { name: 'main', password: 'sp' } },
    ],
  ])('%s keeps everything but the password', (url, kept) => {
    const password = 'n3w p@ss:/?#%';
    const endpoint = parseRedisUrl(withPassword(url, password));
    expect(endpoint.password).toBe(password);
    expect(endpoint).toMatchObject(kept);
  });
});

describe('KVMERGE_ variables that name no option', () => {
  const known = Object.keys(MERGE_OPTIONS);

  it('are warned about, with the nearest option', () => {
    expect(unknownVariables({ KVMERGE_CONCURENCY: '4' }, known)).toEqual([
      'warning: KVMERGE_CONCURENCY names no kvmerge option and is ignored (did you mean KVMERGE_CONCURRENCY?)',
    ]);
    expect(unknownVariables({ KVMERGE_WHATEVER: '1' }, known)).toEqual([
      'warning: KVMERGE_WHATEVER names no kvmerge option and is ignored',
    ]);
    expect(unknownVariables({ KVMERGE_SOURCE_0_PASSWORD: 'x' }, known)[0]).toMatch(/numbered from 1/);
    // A misspelt password variable: pointed at the right names, its value (a secret) never shown.
    const [misspelt] = unknownVariables({ KVMERGE_TARGET_PASWORD: 'hunter2' }, known);
    expect(misspelt).toMatch(
      /KVMERGE_TARGET_PASWORD .*\(passwords: KVMERGE_TARGET_PASSWORD, KVMERGE_SOURCE_<N>_PASSWORD/,
    );
    expect(misspelt).not.toContain('hunter2');
  });

  it('options, passwords and the variables with a meaning of their own are not', () => {
    const env: NodeJS.ProcessEnv = {
      KVMERGE_TARGET: T,
      KVMERGE_ON_CONFLICT: 'skip',
      KVMERGE_TARGET_PASSWORD: 'x',
      KVMERGE_SOURCE_3_PASSWORD: 'x',
      REDISCLI_AUTH: 'x',
      PATH: '/bin',
    };
    for (const name of RESERVED_VARIABLES) env[name] = '1';
    expect(unknownVariables(env, known)).toEqual([]);
  });

  it('a reserved variable is not read as an option', async () => {
    const plan = await planOf(['-s', A, '-t', T], { KVMERGE_STATE_DIR: '/tmp/x', KVMERGE_REDIS_SERVER: 'x' });
    expect(plan.safety.backup).toBeUndefined();
  });

  it('the parser hands the warnings to the command', async () => {
    const command = await parseCommandLine(['-s', A, '-t', T], { KVMERGE_DRYRUN: '1' });
    expect(command.warnings).toEqual([
      'warning: KVMERGE_DRYRUN names no kvmerge option and is ignored (did you mean KVMERGE_DRY_RUN?)',
    ]);
  });

  it('every KVMERGE_ variable the repository reads for itself is reserved, so none is taken for an option', () => {
    const root = join(import.meta.dirname, '../..');
    const read = new Set<string>();
    for (const dir of ['src', 'test', 'bench', 'scripts']) {
      for (const file of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
        if (!/\.(ts|mjs|js)$/.test(file)) continue;
        const text = readFileSync(join(root, dir, file), 'utf8');
        for (const m of text.matchAll(/env\.(KVMERGE_[A-Z0-9_]+)/g)) read.add(m[1]!);
      }
    }
    expect(read.size).toBeGreaterThan(5);
    expect([...read].filter((name) => !RESERVED_VARIABLES.includes(name))).toEqual([]);
  });
});
