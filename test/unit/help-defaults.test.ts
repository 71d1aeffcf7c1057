import { describe, expect, it } from 'vitest';
import { NO_DEFAULT, OPTION_FIELDS, ROLLBACK_NO_DEFAULT } from '../../src/cli/option-defaults.js';
import { MERGE_OPTIONS, VERIFY_OPTIONS } from '../../src/cli/options.js';
import { ROLLBACK_OPTIONS } from '../../src/cli/rollback-options.js';
import { CONFIG_DEFAULTS, describeField } from '../../src/config/schema.js';

// `--help` shows every option's default; for an option that sets a config field, the schema's.

const tables = { merge: MERGE_OPTIONS, verify: VERIFY_OPTIONS, rollback: ROLLBACK_OPTIONS };
const shownDefault = (describe: unknown): string | undefined =>
  /\[default: ([^\]]+)\]$/.exec(String(describe))?.[1];

describe('--help defaults', () => {
  it.each(Object.entries(tables))("every %s option's help ends with its default, once", (command, table) => {
    const none = command === 'rollback' ? ROLLBACK_NO_DEFAULT : NO_DEFAULT;
    const without = Object.entries(table)
      .filter(([name, o]) => shownDefault(o.describe) === undefined && !none.includes(name))
      .map(([name]) => name);
    expect(without).toEqual([]);
    const twice = Object.entries(table)
      .filter(([, o]) => String(o.describe).split('[default: ').length > 2)
      .map(([name]) => name);
    expect(twice).toEqual([]);
  });

  it("rollback's required --backup shows no default", () => {
    expect(shownDefault(ROLLBACK_OPTIONS.backup?.describe)).toBeUndefined();
  });

  it('the options listed as having no default show none', () => {
    for (const name of NO_DEFAULT) expect(shownDefault(MERGE_OPTIONS[name]?.describe)).toBeUndefined();
  });

  it("an option that sets a config field shows the schema's default for it", () => {
    const wrong: string[] = [];
    for (const [name, path] of Object.entries(OPTION_FIELDS)) {
      const value = path
        .split('.')
        .reduce<unknown>((node, k) => (node as Record<string, unknown>)[k], CONFIG_DEFAULTS);
      const expected = typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
      const shown = shownDefault(MERGE_OPTIONS[name]?.describe);
      if (shown !== expected) wrong.push(`--${name}: help says ${shown}, the schema ${expected}`);
    }
    expect(wrong).toEqual([]);
  });

  it('spot checks: the numbers a user tunes', () => {
    expect(shownDefault(MERGE_OPTIONS.concurrency?.describe)).toBe('8');
    expect(shownDefault(MERGE_OPTIONS['big-key-bytes']?.describe)).toBe('16777216');
    expect(shownDefault(MERGE_OPTIONS['connect-timeout']?.describe)).toBe('5000');
    expect(shownDefault(MERGE_OPTIONS['on-conflict']?.describe)).toBe('skip');
    expect(shownDefault(VERIFY_OPTIONS.backup?.describe)).toMatch(/^none/);
  });

  it("an option's upper bound in its help is the schema's", () => {
    const fields = {
      ...OPTION_FIELDS,
      rate: 'throttle.rate',
      'max-source-latency': 'throttle.maxSourceLatencyMs',
    };
    const wrong: string[] = [];
    let bounded = 0;
    for (const [name, path] of Object.entries(fields)) {
      const bound = /(?:up to|to) ([\d,]+)$/.exec(describeField(path.split('.')) ?? '')?.[1];
      if (bound === undefined) continue;
      bounded++;
      if (!String(MERGE_OPTIONS[name]?.describe).includes(`at most ${bound}`))
        wrong.push(`--${name}: ${bound}`);
    }
    expect(bounded).toBeGreaterThanOrEqual(12);
    expect(wrong).toEqual([]);
  });
});
