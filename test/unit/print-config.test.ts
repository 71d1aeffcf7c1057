import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseCommandLine } from '../../src/cli/parser.js';
import { resolvePlan } from '../../src/config/load.js';
import type { MergePlan } from '../../src/config/plan.js';
import { planToDoc } from '../../src/config/plan-doc.js';
import { configFieldPaths } from '../../src/config/schema.js';

// --print-config prints planToDoc(plan) as YAML; reading that back with --config must give the same plan.

const A = 'redis://127.0.0.1:6379/0';
const B = 'redis://127.0.0.1:6380/2';
const T = 'redis://127.0.0.1:6381/0';

async function planOf(args: string[], doc: unknown = {}): Promise<MergePlan> {
  const command = await parseCommandLine(args);
  if (command.kind !== 'merge') throw new Error(`parsed as ${command.kind}`);
  return resolvePlan(doc, command.flags.overrides, {});
}

const roundTrip = (plan: MergePlan, overrides = {}): MergePlan =>
  resolvePlan(parse(stringify(planToDoc(plan))), overrides, {});

describe('--print-config', () => {
  it('the defaults-only plan reads back to itself', async () => {
    const plan = await planOf(['-s', A, '-s', B, '-t', T]);
    expect(roundTrip(plan)).toEqual(plan);
  });

  it('a plan with every kind of setting reads back to itself', async () => {
    const doc = {
      sources: [{ url: A, name: 'shard-a', match: 'user:*' }, { url: B }],
      target: { url: T },
      strategies: { default: 'merge', string: 'override', stream: 'skip', list: 'skip' },
      report: { file: 'r.json', sample: 5 },
      safety: { backup: 'run.journal', failedKeys: 'failed.jsonl', onError: 'skip' },
      follow: { enabled: true, intervalSeconds: 7 },
      throttle: { rate: 1000 },
    };
    const plan = await planOf(
      [
        '--prefix',
        'a:',
        '--zset-score',
        'max',
        '--ttl',
        'source',
        '--concurrency',
        '3',
        '--connect-timeout',
        '900',
      ],
      doc,
    );
    expect(plan.sources[0]!.prefix.toString()).toBe('a:');
    expect(plan.follow?.intervalMs).toBe(7000);
    expect(roundTrip(plan)).toEqual(plan);
  });

  it('every field is spelt out, defaults included', async () => {
    const printed = planToDoc(await planOf(['-s', A, '-t', T])) as Record<string, Record<string, unknown>>;
    // Every field of the schema but the ones that have no value unless given (files, match, tls).
    const optional = /(^|\.)(match|tls|file|failedKeys|backup|name)(\.|$)|^version$/;
    const missing = configFieldPaths().filter((path) => {
      if (optional.test(path)) return false;
      const parts = path.replace('[]', '.0').split('.');
      let node: unknown = printed;
      for (const p of parts) node = (node as Record<string, unknown> | undefined)?.[p];
      return node === undefined;
    });
    expect(missing).toEqual([]);
  });

  it('passwords show as ***, and one given apart from the URL reads back', async () => {
    const plan = await planOf(['-s', 'redis://:src-secret@127.0.0.1:6379/0', '-t', T]);
    const text = stringify(planToDoc(plan));
    expect(text).not.toContain('src-secret');
    expect(text).toContain('redis://:***@127.0.0.1:6379/0');
    const back = roundTrip(plan, { passwords: { sources: ['src-secret'] } });
    expect(back).toEqual(plan);
  });
});
