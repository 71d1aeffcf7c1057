// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about the ${VAR} syntax
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../src/common/errors.js';
import { type CliOverrides, loadPlan, resolvePlan } from '../../src/config/load.js';
import { configFieldPaths } from '../../src/config/schema.js';

const SOURCE_A = 'redis://127.0.0.1:6379/0';
const SOURCE_B = 'redis://127.0.0.1:6380/0';
const TARGET = 'redis://127.0.0.1:6381/0';
const EXAMPLE = join(import.meta.dirname, '../../config.example.yaml');

/** A minimal valid document: two sources and a target. Each call returns a fresh copy to mutate. */
function baseDoc(): Record<string, unknown> {
  return { sources: [{ url: SOURCE_A }, { url: SOURCE_B }], target: { url: TARGET } };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

async function configErrorAsync(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

/** Sets `value` at a path such as `sources[1].url` or `write.concurrency`, creating mappings on the way. */
function setAt(doc: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const parts = path.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '');
  let node = doc as Record<string, unknown>;
  for (const [i, part] of parts.entries()) {
    const key = /^\d+$/.test(part) ? Number(part) : part;
    if (i === parts.length - 1) {
      (node as Record<string | number, unknown>)[key] = value;
    } else {
      const next = (node as Record<string | number, unknown>)[key];
      if (next === undefined || next === null || typeof next !== 'object') {
        (node as Record<string | number, unknown>)[key] = {};
      }
      node = (node as Record<string | number, unknown>)[key] as Record<string, unknown>;
    }
  }
  return doc;
}

describe('defaults', () => {
  it('fills every field the document leaves out with the built-in default', () => {
    const plan = resolvePlan(baseDoc(), {}, {});
    expect(plan).toEqual({
      sources: [
        { url: SOURCE_A, name: '127.0.0.1:6379/0', prefix: Buffer.alloc(0) },
        { url: SOURCE_B, name: '127.0.0.1:6380/0', prefix: Buffer.alloc(0) },
      ],
      target: { url: TARGET },
      strategies: {
        string: 'skip',
        hash: 'skip',
        set: 'skip',
        zset: 'skip',
        list: 'skip',
        stream: 'skip',
        other: 'skip',
        typeMismatch: 'skip',
      },
      merge: { hashField: 'source', zsetScore: 'source', list: 'append', ttl: 'max' },
      write: {
        mode: 'auto',
        concurrency: 8,
        batchSize: 512,
        scanCount: 1000,
        bigKeyElements: 10000,
        bigKeyBytes: 16777216,
        payloadMaxBytes: 536870912,
      },
      report: { sample: 100 },
      dryRun: false,
      failOnConflict: false,
      safety: { onError: 'stop', resume: false, noBackup: false, again: false },
      network: { connectTimeoutMs: 5000, commandTimeoutMs: 15000, retryBudgetMs: 30000 },
      throttle: {},
    });
  });

  it('accepts an empty or missing document when flags give sources and target', () => {
    for (const doc of [null, undefined, {}]) {
      const plan = resolvePlan(doc, { source: [SOURCE_A], target: TARGET }, {});
      expect(plan.sources.map((s) => s.url)).toEqual([SOURCE_A]);
      expect(plan.target.url).toBe(TARGET);
    }
  });

  it('takes a field left empty in YAML (null) as not set', () => {
    const doc = {
      ...baseDoc(),
      write: null,
      strategies: { default: null, hash: 'merge' },
      report: { file: null },
    };
    const plan = resolvePlan(doc, {}, {});
    expect(plan.write.concurrency).toBe(8);
    expect(plan.strategies).toMatchObject({ string: 'skip', hash: 'merge' });
    expect(plan.report).toEqual({ sample: 100 });
  });

  it('turns the prefix into UTF-8 bytes and keeps a given name', () => {
    const doc = setAt(setAt(baseDoc(), 'sources[0].prefix', 'shard-é:'), 'sources[0].name', 'shard-a');
    const [a] = resolvePlan(doc, {}, {}).sources;
    expect(a!.prefix).toEqual(Buffer.from('shard-é:', 'utf8'));
    expect(a!.name).toBe('shard-a');
  });

  it('takes an empty report file and a match of "*" as none', () => {
    const doc = setAt(setAt(baseDoc(), 'report.file', ''), 'match', '*');
    const plan = resolvePlan(doc, {}, {});
    expect(plan.report).toEqual({ sample: 100 });
    expect(plan.sources[0]!.match).toBeUndefined();
  });
});

describe('one error per bad value, naming the field, the value and the accepted values', () => {
  // [path, bad value, text the message must contain besides the field]
  const cases: Array<[string, unknown, string[]]> = [
    ['version', 2, ['2', 'accepted: 1']],
    ['sources', 'redis://h', ['"redis://h"', 'a list of sources']],
    ['sources[1].url', 5, ['5', 'redis:// or rediss:// URL']],
    ['sources[1].name', '', ['""', 'non-empty name']],
    ['sources[1].match', '', ['""', 'non-empty SCAN MATCH glob']],
    ['sources[1].prefix', 7, ['7', 'a string']],
    ['target', 'redis://h', ['"redis://h"', 'a mapping with the fields url']],
    ['target.url', true, ['true', 'redis:// or rediss:// URL']],
    ['match', '', ['""', 'non-empty SCAN MATCH glob']],
    ['strategies', 'merge', ['"merge"', 'a mapping with the fields default, string']],
    ['strategies.default', 'mrege', ['"mrege"', 'override | merge | skip']],
    ['strategies.string', 'union', ['"union"', 'accepted: override | skip']],
    ['strategies.hash', 'union', ['"union"', 'override | merge | skip']],
    ['strategies.set', 'union', ['"union"', 'override | merge | skip']],
    ['strategies.zset', 'union', ['"union"', 'override | merge | skip']],
    ['strategies.list', 'union', ['"union"', 'override | merge | skip']],
    ['strategies.stream', 'union', ['"union"', 'accepted: override | skip']],
    ['typeMismatch', 'merge', ['"merge"', 'override | skip | fail']],
    ['merge', [], ['a list', 'a mapping with the fields hashField']],
    ['merge.hashField', 'max', ['"max"', 'source | target']],
    ['merge.zsetScore', 'avg', ['"avg"', 'source | target | max | min | sum']],
    ['merge.list', 'insert', ['"insert"', 'append | prepend | union']],
    ['merge.ttl', 'longest', ['"longest"', 'max | min | source | target']],
    ['write', 3, ['3', 'a mapping with the fields mode']],
    ['write.mode', 'fast', ['"fast"', 'auto | dump | native']],
    ['write.concurrency', 0, ['0', 'a positive integer']],
    ['write.batchSize', -5, ['-5', 'a positive integer']],
    ['write.batchSize', 100_000_000, ['100000000', 'up to 100,000']],
    ['write.scanCount', 1.5, ['1.5', 'a positive integer']],
    ['write.bigKeyElements', 'many', ['"many"', 'a positive integer']],
    ['write.bigKeyBytes', 0, ['0', 'a positive integer']],
    ['write.payloadMaxBytes', -1, ['-1', 'an integer from 0 to 4,294,967,296']],
    ['write.payloadMaxBytes', 2 ** 33, ['8589934592', 'an integer from 0 to 4,294,967,296']],
    ['report', true, ['true', 'a mapping with the fields file, sample']],
    ['report.file', 1, ['1', 'a file name']],
    ['report.sample', -1, ['-1', 'an integer >= 0']],
    ['sources[0].tls', 'yes', ['"yes"', 'a mapping with the fields ca, cert, key, insecure']],
    ['sources[0].tls.ca', 1, ['1', 'a file name']],
    ['sources[0].tls.cert', 1, ['1', 'a file name']],
    ['sources[0].tls.key', 1, ['1', 'a file name']],
    ['sources[0].tls.insecure', 'maybe', ['"maybe"', 'true | false']],
    ['target.tls', 'yes', ['"yes"', 'a mapping with the fields ca, cert, key, insecure']],
    ['target.tls.ca', 1, ['1', 'a file name']],
    ['target.tls.cert', 1, ['1', 'a file name']],
    ['target.tls.key', 1, ['1', 'a file name']],
    ['target.tls.insecure', 'maybe', ['"maybe"', 'true | false']],
    ['safety', 1, ['1', 'a mapping with the fields onError, failedKeys, backup, resume']],
    ['safety.onError', 'ignore', ['"ignore"', 'stop | skip']],
    ['safety.failedKeys', 1, ['1', 'a file name']],
    ['safety.backup', 1, ['1', 'a file name']],
    ['safety.resume', 'maybe', ['"maybe"', 'true | false']],
    ['network', 1, ['1', 'a mapping with the fields connectTimeoutMs, commandTimeoutMs, retryBudgetMs']],
    ['network.connectTimeoutMs', 0, ['0', 'a number of milliseconds from 1 to 600,000']],
    ['network.commandTimeoutMs', 'soon', ['"soon"', 'a number of milliseconds from 1 to 3,600,000']],
    ['network.retryBudgetMs', -1, ['-1', 'a number of milliseconds from 1 to 86,400,000']],
    ['network.connectTimeoutMs', 600_001, ['600001', 'a number of milliseconds from 1 to 600,000']],
    ['write.bigKeyBytes', 2 ** 30, ['1073741824', 'a positive integer up to 536,870,912']],
    ['follow', true, ['true', 'a mapping with the fields enabled']],
    ['follow.enabled', 'yes', ['"yes"', 'true | false']],
    ['follow.untilCaughtUp', 1, ['1', 'true | false']],
    ['follow.intervalSeconds', 0, ['0', 'a positive integer']],
    ['follow.maxPending', 0, ['0', 'a positive integer']],
    ['follow.setNotifyConfig', 'no', ['"no"', 'true | false']],
    ['throttle', 5, ['5', 'a mapping with the fields rate']],
    ['throttle.rate', -1, ['-1', 'an integer from 0 to 100,000,000']],
    ['throttle.maxSourceLatencyMs', 1.5, ['1.5', 'an integer from 0 to 600,000']],
    ['write.scanCount', 1_000_001, ['1000001', 'a positive integer up to 1,000,000']],
    ['follow.intervalSeconds', 86_401, ['86401', 'a positive integer up to 86,400']],
    ['dryRun', 'yes', ['"yes"', 'true | false']],
    ['failOnConflict', 1, ['1', 'true | false']],
  ];

  it.each(cases)('%s = %j', (path, value, expected) => {
    const err = configError(() => resolvePlan(setAt(baseDoc(), path, value), {}, {}));
    expect(err.field).toBe(path);
    expect(err.message.startsWith(`${path}: `)).toBe(true);
    for (const text of expected) expect(err.message).toContain(text);
    expect(err.exitCode).toBe(2);
  });

  it('covers every field of the schema', () => {
    const tested = new Set(cases.map(([path]) => path.replace(/\[\d+\]/g, '[]')));
    expect(configFieldPaths().filter((p) => !tested.has(p))).toEqual([]);
  });

  it('says a required field is missing', () => {
    const err = configError(() => resolvePlan({ sources: [{ name: 'a' }], target: { url: TARGET } }, {}, {}));
    expect(err.field).toBe('sources[0].url');
    expect(err.message).toContain('is required');
  });

  it.each([
    ['hsah', 'strategies.hsah', 'accepted fields of strategies: default, string, hash'],
    ['', 'sources[0].password', 'accepted fields of sources[0]: url, name, match, prefix, tls'],
    ['', 'batch_size', 'accepted fields: version, sources'],
    ['', 'write.batchsize', 'did you mean batchSize?'],
  ])('refuses the unknown field %s%s', (_, path, expected) => {
    const err = configError(() => resolvePlan(setAt(baseDoc(), path, 'x'), {}, {}));
    expect(err.field).toBe(path);
    expect(err.message).toContain('unknown field');
    expect(err.message).toContain(expected);
  });

  it('names a bad URL by its place in the list and hides its password', () => {
    const doc = setAt(baseDoc(), 'sources[1].url', 'redis://:hunter2@h:99999/0');
    const err = configError(() => resolvePlan(doc, {}, {}));
    expect(err.field).toBe('sources[1].url');
    expect(err.message).toContain('bad port "99999"');
    expect(err.message).not.toContain('hunter2');
    const target = configError(() => resolvePlan(setAt(baseDoc(), 'target.url', 'tcp://h'), {}, {}));
    expect(target.field).toBe('target.url');
  });

  it('refuses a document that is not a mapping', () => {
    expect(configError(() => resolvePlan(['a'], {}, {})).message).toContain('must be a YAML mapping');
  });

  it.each<[keyof CliOverrides, unknown, string, string]>([
    ['onConflict', 'replace', '--on-conflict', 'override | merge | skip'],
    ['string', '', '--string', 'accepted: override | skip'],
    ['hash', 'x', '--hash', 'override | merge | skip'],
    ['set', 'x', '--set', 'override | merge | skip'],
    ['zset', 'x', '--zset', 'override | merge | skip'],
    ['list', 'x', '--list', 'override | merge | skip'],
    ['stream', 'x', '--stream', 'accepted: override | skip'],
    ['typeMismatch', 'merge', '--type-mismatch', 'override | skip | fail'],
    ['match', '', '--match', 'non-empty SCAN MATCH glob'],
    ['mode', 'turbo', '--mode', 'auto | dump | native'],
    ['concurrency', 0, '--concurrency', 'a positive integer'],
    ['batch', -1, '--batch', 'a positive integer'],
    ['batch', 100_000_000, '--batch', 'a positive integer up to 100,000'],
    ['concurrency', 5_000, '--concurrency', 'a positive integer up to 1,024'],
    ['scanCount', Number.NaN, '--scan-count', 'a positive integer'],
    ['onError', 'ignore', '--on-error', 'stop | skip'],
  ])('refuses the flag %s = %j, naming the flag', (key, value, flag, accepted) => {
    const err = configError(() => resolvePlan(baseDoc(), { [key]: value } as CliOverrides, {}));
    expect(err.field).toBe(flag);
    expect(err.message).toContain(String(value));
    expect(err.message).toContain(accepted);
    // Strings and streams cannot be merged: their accepted values must not offer it (issue 9).
    if (key === 'string' || key === 'stream') expect(err.message).not.toContain('merge');
  });

  it('names -s and -t in the error of a bad URL given as a flag', () => {
    expect(configError(() => resolvePlan({}, { source: ['redis://h:x'], target: TARGET }, {})).field).toBe(
      '--source',
    );
    expect(configError(() => resolvePlan({}, { source: [SOURCE_A], target: 'redis://h/x' }, {})).field).toBe(
      '--target',
    );
  });
});

describe('sources and target', () => {
  it('asks for -s or a config file when there is no source', () => {
    for (const doc of [{ target: { url: TARGET } }, { sources: [], target: { url: TARGET } }]) {
      const err = configError(() => resolvePlan(doc, {}, {}));
      expect(err.field).toBe('sources');
      expect(err.message).toContain('-s URL');
      expect(err.message).toContain('config file');
    }
  });

  it('asks for -t or a config file when there is no target', () => {
    const err = configError(() => resolvePlan({ sources: [{ url: SOURCE_A }] }, {}, {}));
    expect(err.field).toBe('target');
    expect(err.message).toContain('-t URL');
    expect(err.message).toContain('config file');
  });

  it('refuses two sources with one name', () => {
    const doc = setAt(setAt(baseDoc(), 'sources[0].name', 'shard'), 'sources[1].name', 'shard');
    const err = configError(() => resolvePlan(doc, {}, {}));
    expect(err.field).toBe('sources[1].name');
    expect(err.message).toContain('"shard"');
  });

  it('refuses the same source URL twice on the command line (same default name)', () => {
    const err = configError(() => resolvePlan({}, { source: [SOURCE_A, SOURCE_A], target: TARGET }, {}));
    expect(err.field).toBe('--source');
  });

  it('refuses a source that is the target, with localhost and 127.0.0.1 taken as one host', () => {
    const doc = setAt(baseDoc(), 'sources[1].url', 'redis://localhost:6381/0');
    const err = configError(() => resolvePlan(doc, {}, {}));
    expect(err.field).toBe('sources[1].url');
    expect(err.message).toContain('is the target itself');
    expect(configError(() => resolvePlan({}, { source: [TARGET], target: TARGET }, {})).field).toBe(
      '--source',
    );
  });

  it('accepts a source on the same server as the target in another database', () => {
    const plan = resolvePlan({}, { source: ['redis://127.0.0.1:6381/1'], target: TARGET }, {});
    expect(plan.sources[0]!.name).toBe('127.0.0.1:6381/1');
  });

  it('keeps the URLs as given, password included, for connecting', () => {
    const plan = resolvePlan({}, { source: ['redis://:pw@10.0.0.1'], target: 'redis://u:pw2@10.0.0.2' }, {});
    expect(plan.sources[0]!.url).toBe('redis://:pw@10.0.0.1');
    expect(plan.sources[0]!.name).toBe('10.0.0.1:6379/0');
    expect(plan.target.url).toBe('redis://u:pw2@10.0.0.2');
  });
});

describe('precedence: flag > file > default', () => {
  it('-s replaces the whole source list of the file, and -t its target', () => {
    const doc = setAt(baseDoc(), 'sources[0].name', 'from-file');
    const plan = resolvePlan(doc, { source: ['redis://10.0.0.9/2'], target: 'redis://10.0.0.8' }, {});
    expect(plan.sources).toHaveLength(1);
    expect(plan.sources[0]).toMatchObject({ url: 'redis://10.0.0.9/2', name: '10.0.0.9:6379/2' });
    expect(plan.target.url).toBe('redis://10.0.0.8');
  });

  it('an empty -s list counts as not given', () => {
    expect(resolvePlan(baseDoc(), { source: [] }, {}).sources).toHaveLength(2);
  });

  it('the file per-type strategy wins over the file default', () => {
    const doc = setAt(setAt(baseDoc(), 'strategies.default', 'override'), 'strategies.hash', 'merge');
    expect(resolvePlan(doc, {}, {}).strategies).toMatchObject({
      string: 'override',
      hash: 'merge',
      set: 'override',
      other: 'override',
    });
  });

  it('--on-conflict sets every type, over the file per-type values; a per-type flag wins over it', () => {
    const doc = setAt(setAt(baseDoc(), 'strategies.hash', 'merge'), 'strategies.list', 'merge');
    const plan = resolvePlan(doc, { onConflict: 'override', list: 'skip' }, {});
    expect(plan.strategies).toEqual({
      string: 'override',
      hash: 'override',
      set: 'override',
      zset: 'override',
      list: 'skip',
      stream: 'override',
      other: 'override',
      typeMismatch: 'skip',
    });
  });

  it('per-type flags win over the file', () => {
    const doc = setAt(baseDoc(), 'strategies.set', 'override');
    expect(resolvePlan(doc, { set: 'merge' }, {}).strategies.set).toBe('merge');
  });

  it('write and report flags win over the file, which wins over the defaults', () => {
    let doc = baseDoc();
    for (const [path, value] of Object.entries({
      'write.mode': 'dump',
      'write.concurrency': 3,
      'write.batchSize': 50,
      'write.scanCount': 10,
      'write.bigKeyElements': 5,
      typeMismatch: 'fail',
      'report.file': 'file.json',
      'report.sample': 0,
    })) {
      doc = setAt(doc, path, value);
    }
    const fromFile = resolvePlan(doc, {}, {});
    expect(fromFile.write).toEqual({
      mode: 'dump',
      concurrency: 3,
      batchSize: 50,
      scanCount: 10,
      bigKeyElements: 5,
      bigKeyBytes: 16777216,
      payloadMaxBytes: 536870912,
    });
    expect(fromFile.report).toEqual({ file: 'file.json', sample: 0 });
    expect(fromFile.strategies.typeMismatch).toBe('fail');

    const flags: CliOverrides = {
      mode: 'native',
      concurrency: 16,
      batch: 500,
      scanCount: 2000,
      typeMismatch: 'override',
      report: 'flag.json',
    };
    const fromFlags = resolvePlan(doc, flags, {});
    expect(fromFlags.write).toMatchObject({
      mode: 'native',
      concurrency: 16,
      batchSize: 500,
      scanCount: 2000,
    });
    expect(fromFlags.report.file).toBe('flag.json');
    expect(fromFlags.strategies.typeMismatch).toBe('override');
  });

  it('a source match wins over the top-level match; --match wins over both', () => {
    const doc = setAt(setAt(baseDoc(), 'match', 'top:*'), 'sources[0].match', 'own:*');
    expect(resolvePlan(doc, {}, {}).sources.map((s) => s.match)).toEqual(['own:*', 'top:*']);
    expect(resolvePlan(doc, { match: 'flag:*' }, {}).sources.map((s) => s.match)).toEqual([
      'flag:*',
      'flag:*',
    ]);
  });

  it('--dry-run and --fail-on-conflict win over the file', () => {
    expect(resolvePlan(baseDoc(), { dryRun: true, failOnConflict: true }, {})).toMatchObject({
      dryRun: true,
      failOnConflict: true,
    });
    const doc = setAt(setAt(baseDoc(), 'dryRun', true), 'failOnConflict', true);
    expect(resolvePlan(doc, {}, {})).toMatchObject({ dryRun: true, failOnConflict: true });
    expect(resolvePlan(doc, { failOnConflict: false }, {}).failOnConflict).toBe(false);
  });

  it('refuses failOnConflict without a dry run, naming where it came from', () => {
    const fromFlag = configError(() => resolvePlan(baseDoc(), { failOnConflict: true }, {}));
    expect(fromFlag.field).toBe('--fail-on-conflict');
    expect(fromFlag.message).toContain('--dry-run');
    const fromFile = configError(() => resolvePlan(setAt(baseDoc(), 'failOnConflict', true), {}, {}));
    expect(fromFile.field).toBe('failOnConflict');
  });
});

describe('merge for string and stream', () => {
  it.each(['string', 'stream'])('is refused when set explicitly for %s, listing what it accepts', (type) => {
    const err = configError(() => resolvePlan(setAt(baseDoc(), `strategies.${type}`, 'merge'), {}, {}));
    expect(err.field).toBe(`strategies.${type}`);
    expect(err.message).toContain(type);
    expect(err.message).toContain('override | skip');
    const flag = configError(() => resolvePlan(baseDoc(), { [type]: 'merge' }, {}));
    expect(flag.field).toBe(`--${type}`);
  });

  it('is refused when inherited from strategies.default, blaming the default', () => {
    const doc = setAt(setAt(baseDoc(), 'strategies.default', 'merge'), 'strategies.string', 'override');
    const err = configError(() => resolvePlan(doc, {}, {}));
    expect(err.field).toBe('strategies.default');
    expect(err.message).toContain('stream');
    expect(err.message).not.toContain('string');
    expect(err.message).toContain('strategies.stream');
    expect(err.message).toContain('override | skip');
  });

  it('is refused when inherited from --on-conflict, blaming the flag and suggesting per-type flags', () => {
    const doc = setAt(setAt(baseDoc(), 'strategies.string', 'skip'), 'strategies.stream', 'skip');
    const err = configError(() => resolvePlan(doc, { onConflict: 'merge' }, {}));
    expect(err.field).toBe('--on-conflict');
    expect(err.message).toContain('string and stream');
    expect(err.message).toContain('--string and --stream');
  });

  it('is accepted for the other types, with module types (other) falling back to skip', () => {
    const doc = setAt(
      setAt(setAt(baseDoc(), 'strategies.default', 'merge'), 'strategies.string', 'override'),
      'strategies.stream',
      'skip',
    );
    expect(resolvePlan(doc, {}, {}).strategies).toEqual({
      string: 'override',
      hash: 'merge',
      set: 'merge',
      zset: 'merge',
      list: 'merge',
      stream: 'skip',
      other: 'skip',
      typeMismatch: 'skip',
    });
    const flags = resolvePlan(baseDoc(), { onConflict: 'merge', string: 'override', stream: 'override' }, {});
    expect(flags.strategies.other).toBe('skip');
    expect(flags.strategies.hash).toBe('merge');
  });

  it('gives other the default strategy when it is not merge', () => {
    expect(resolvePlan(setAt(baseDoc(), 'strategies.default', 'override'), {}, {}).strategies.other).toBe(
      'override',
    );
    expect(resolvePlan(baseDoc(), { onConflict: 'override' }, {}).strategies.other).toBe('override');
  });
});

describe('${VAR} substitution', () => {
  it('replaces variables in any string of the document, anywhere in the string', () => {
    const doc = {
      sources: [{ url: 'redis://:${PW}@${HOST}:6379/0', name: 'shard-${SHARD}' }],
      target: { url: '${TARGET_URL}' },
      strategies: { hash: '${HASH_STRATEGY}' },
      write: { concurrency: '${WRITERS}' },
      dryRun: '${DRY}',
    };
    const env = {
      PW: 'p@ss',
      HOST: '10.0.0.1',
      SHARD: 'b',
      TARGET_URL: TARGET,
      HASH_STRATEGY: 'merge',
      WRITERS: '12',
      DRY: 'true',
    };
    const plan = resolvePlan(doc, {}, env);
    expect(plan.sources[0]).toMatchObject({ url: 'redis://:p@ss@10.0.0.1:6379/0', name: 'shard-b' });
    expect(plan.target.url).toBe(TARGET);
    expect(plan.strategies.hash).toBe('merge');
    expect(plan.write.concurrency).toBe(12);
    expect(plan.dryRun).toBe(true);
  });

  it('names the missing variable and the field it is in', () => {
    const doc = setAt(baseDoc(), 'sources[1].url', 'redis://:${SHARD_B_PASSWORD}@h');
    const err = configError(() => resolvePlan(doc, {}, { OTHER: 'x' }));
    expect(err.field).toBe('sources[1].url');
    expect(err.message).toContain('SHARD_B_PASSWORD');
    expect(err.message).toContain('not set');
  });

  it('accepts an empty variable, reads $${ as a literal ${ and never expands a value twice', () => {
    const doc = setAt(
      setAt(baseDoc(), 'sources[0].prefix', 'a${EMPTY}b$${LITERAL}'),
      'sources[1].name',
      '${V}',
    );
    const plan = resolvePlan(doc, {}, { EMPTY: '', V: '${EMPTY}' });
    expect(plan.sources[0]!.prefix.toString()).toBe('ab${LITERAL}');
    expect(plan.sources[1]!.name).toBe('${EMPTY}');
  });

  it('refuses a malformed reference without quoting the text around it', () => {
    const doc = setAt(baseDoc(), 'target.url', 'redis://:se${cret@h');
    const err = configError(() => resolvePlan(doc, {}, {}));
    expect(err.field).toBe('target.url');
    expect(err.message).not.toContain('cret');
  });

  it('validates the substituted value like any other', () => {
    const err = configError(() => resolvePlan(setAt(baseDoc(), 'write.concurrency', '${N}'), {}, { N: '0' }));
    expect(err.field).toBe('write.concurrency');
    expect(err.message).toContain('a positive integer');
  });
});

describe('loadPlan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerge-config-'));
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('reads config.example.yaml as it stands', async () => {
    const plan = await loadPlan({ config: EXAMPLE }, {});
    // The ports of docker-compose.test.yml: sources 6381-6383, target 6380.
    expect(plan.sources.map((s) => s.name)).toEqual(['shard-a', '127.0.0.1:6382/0', '127.0.0.1:6383/0']);
    expect(plan.sources[0]!.match).toBe('user:*');
    expect(plan.sources[1]!.url).toBe('redis://127.0.0.1:6382/0');
    expect(plan.target.url).toBe('redis://127.0.0.1:6380/0');
    expect(plan.strategies).toMatchObject({ string: 'override', hash: 'merge', list: 'skip', other: 'skip' });
  });

  it('config.example.yaml sets every field of the schema', () => {
    const doc = parseYaml(readFileSync(EXAMPLE, 'utf8')) as unknown;
    const has = (node: unknown, parts: string[]): boolean => {
      if (parts.length === 0) return true;
      const [head, ...rest] = parts as [string, ...string[]];
      if (head.endsWith('[]')) {
        const list = (node as Record<string, unknown>)[head.slice(0, -2)];
        return Array.isArray(list) && list.some((item) => has(item, rest));
      }
      return (
        typeof node === 'object' &&
        node !== null &&
        head in node &&
        has((node as Record<string, unknown>)[head], rest)
      );
    };
    // `sources[].url` → ['sources[]', 'url']: present in at least one source.
    const missing = configFieldPaths().filter((path) => !has(doc, path.split('.')));
    expect(missing).toEqual([]);
  });

  it('works without a file, from flags alone', async () => {
    const plan = await loadPlan({ source: [SOURCE_A], target: TARGET }, {});
    expect(plan.sources).toHaveLength(1);
  });

  it('names a missing file', async () => {
    const file = join(dir, 'nope.yaml');
    const err = await configErrorAsync(loadPlan({ config: file }, {}));
    expect(err.field).toBe('--config');
    expect(err.message).toContain(file);
    expect(err.message).toContain('no such file');
  });

  it('names the file and line of a YAML syntax error', async () => {
    const file = write('bad.yaml', `sources:\n  - url: ${SOURCE_A}\n target: x\n`);
    const err = await configErrorAsync(loadPlan({ config: file }, {}));
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/line 3\b/);
  });

  it('refuses duplicate keys with their line', async () => {
    const file = write('dup.yaml', `target:\n  url: ${TARGET}\ntarget:\n  url: ${TARGET}\n`);
    expect((await configErrorAsync(loadPlan({ config: file }, {}))).message).toMatch(/line 3\b/);
  });

  it('does not quote a password from a broken line', async () => {
    const file = write('leak.yaml', 'target:\n  url: "redis://:hunter2@h\nsources: []\n');
    const err = await configErrorAsync(loadPlan({ config: file }, {}));
    expect(err.message).not.toContain('hunter2');
  });

  it('interpolates the environment it is given', async () => {
    const file = write('env.yaml', 'sources:\n  - url: ${SRC}\ntarget:\n  url: ${DST}\n');
    const plan = await loadPlan({ config: file }, { SRC: SOURCE_A, DST: TARGET });
    expect(plan.sources[0]!.url).toBe(SOURCE_A);
    const err = await configErrorAsync(loadPlan({ config: file }, { SRC: SOURCE_A }));
    expect(err.field).toBe('target.url');
    expect(err.message).toContain('DST');
  });
});
