import { Limiter } from '../common/limiter.js';
import { SeenKeys } from '../common/seen-keys.js';
import { toolVersion } from '../common/version.js';
import type { MergePlan } from '../config/plan.js';
import { redactUrl } from '../config/url.js';
import type { WindowLoader } from '../journal/reader.js';
import type { JournaledKey } from '../journal/types.js';
import { walkSources } from '../run/loop.js';
import { now } from '../servers/clock.js';
import type { ServerEvents } from '../servers/events.js';
import { type Checker, checkKeys, fieldTtlDifference } from './check.js';
import { matches, type Rules, shownOutcome } from './expect.js';
import { FileSide } from './file-side.js';
import { priorsOf, sampleKeys } from './sample.js';
import { showExpected, showFound } from './show.js';
import { closeAll, connectAll, sourcePass, withPrefix } from './sides.js';

export interface VerifyOptions {
  /**
   * The run's journal (SPEC §6.2): each key the run touched and its state before. Those keys are
   * checked exactly against fold(prior, sources); every other key as without a journal.
   */
  priors?: AsyncIterable<JournaledKey>;
  /**
   * Reads a big key's prior state from the journal, a window at a time, by the offsets its PriorState
   * 'windows' names (`openWindows(file).read`): such a key is then checked exactly too. Without it,
   * those keys are checked as without a journal.
   */
  windows?: WindowLoader;
  /** Check this many random keys of the sources instead of all. */
  sample?: number;
  /** How far a TTL may be off, in ms (default 2,000, plus the server's TTL step). */
  ttlToleranceMs?: number;
  /** Differences kept by name in the report (all are counted and passed to onDifference). Default 10,000. */
  maxListed?: number;
}

export interface VerifyHooks {
  /** Each difference as it is found (the CLI prints it at once). */
  onDifference?: (difference: Difference) => void;
  /** Aborting stops the walk; the report says `interrupted`. */
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Keys checked and differences so far, after each batch. */
  progress?: (checked: number, differences: number) => void;
  /** The run's event channel: reconnections, failovers and topology changes as they happen. */
  events?: ServerEvents;
}

/** One key whose value on the target is not what the fold says (SPEC §6.5). */
export interface Difference {
  /** The target key (UTF-8), or keyBase64 when it is not valid UTF-8. */
  key?: string;
  keyBase64?: string;
  expected: string;
  found: string;
}

export interface VerifyReport {
  tool: 'kvmerge';
  command: 'verify';
  version: string;
  startedAt: string;
  durationMs: number;
  target: { url: string };
  sources: { name: string; url: string }[];
  /** `journal`: keys the run touched checked exactly; `no-journal`: what holds whatever the prior was. */
  mode: 'journal' | 'no-journal';
  /** The requested sample size, when only a sample was checked. */
  sample?: number;
  /** Target keys compared. */
  checked: number;
  /** Of them, keys checked exactly against their journaled prior. */
  exact: number;
  /** Journaled keys checked without their prior, and why (a prior payload that cannot be decoded: a module type). */
  priorsUnused: { reason: string; keys: number }[];
  differences: number;
  listed: Difference[];
  outcome: 'equal' | 'different' | 'interrupted';
}

const DEFAULT_TOLERANCE_MS = 2_000;
const DEFAULT_MAX_LISTED = 10_000;

/**
 * `kvmerge verify` (SPEC §6.5): compares the target with the fold of SPEC §1 over the sources, under
 * the plan's strategies, prefixes and match patterns. It only reads (TYPE or PTYPE, PTTL, the types'
 * counts and read commands, MEMORY USAGE, DUMP of hashes on Redis 7.4+, SCAN), on every server.
 *
 * Every target key that a source holds is checked once: a source's scan checks the keys that no
 * earlier source holds (the earlier one's scan checked the others), reading that key from every
 * source that holds it and from the target, batch by batch, `write.concurrency` batches at once, so
 * memory holds a bounded number of batches. A value over write.bigKeyElements or write.bigKeyBytes on
 * any side is compared in windows (big.ts, windowed.ts), one big key of a batch at a time. With the
 * journal, its keys are checked first, exactly, and skipped by the scans (a fingerprint each).
 * With `sample`, the scans only collect a uniform sample of keys (reservoir), which is then checked.
 * An RDB file source (SPEC §10) is walked in file order instead of scanned and answers for its keys
 * itself (file-side.ts), so sources may be files, servers, or both.
 */
export async function verify(
  plan: MergePlan,
  options: VerifyOptions = {},
  hooks: VerifyHooks = {},
): Promise<VerifyReport> {
  const startedAt = new Date();
  const started = now();
  const { target, sources } = await connectAll(plan, hooks.events);
  for (const side of [target, ...sources])
    for (const warning of side.caps.warnings) hooks.log?.(`${side.label}: ${warning}`);
  const maxListed = options.maxListed ?? DEFAULT_MAX_LISTED;
  const granularity = Math.max(target.caps.ttlGranularityMs, ...sources.map((s) => s.caps.ttlGranularityMs));
  const rules: Rules = {
    table: plan.strategies,
    merge: plan.merge,
    ttlToleranceMs: (options.ttlToleranceMs ?? DEFAULT_TOLERANCE_MS) + granularity,
    targetStreamTtl: target.caps.streamTtl,
  };
  const tally = {
    checked: 0,
    exact: 0,
    differences: 0,
    listed: [] as Difference[],
    unused: new Map<string, number>(),
  };
  // The native path drops hash field TTLs (README "Write paths"): after such a run they are not compared.
  const compareFieldTtls = plan.write.mode !== 'native';
  const checker: Checker = {
    plan,
    target,
    sources,
    rules,
    windows: options.windows,
    record(key, outcomes, found, origin) {
      const passing = outcomes.filter((o) => matches(found, o, rules));
      if (passing.length === 0) {
        this.recordBig(key, {
          expected: showExpected(shownOutcome(outcomes, found)),
          found: showFound(found),
        });
        return;
      }
      const fields = compareFieldTtls ? fieldTtlDifference(passing, found, origin, rules) : null;
      this.recordBig(
        key,
        fields && {
          expected: `${showExpected(passing[0]!)}, ${fields.expected}`,
          found: `${showFound(found)}, ${fields.found}`,
        },
      );
    },
    recordBig(key, mismatch) {
      tally.checked++;
      if (!mismatch) return;
      tally.differences++;
      const difference: Difference = { ...keyField(key), ...mismatch };
      if (tally.listed.length < maxListed) tally.listed.push(difference);
      hooks.onDifference?.(difference);
    },
    priorUnused(reason) {
      tally.unused.set(reason, (tally.unused.get(reason) ?? 0) + 1);
    },
    exact() {
      tally.exact++;
    },
    batchDone() {
      hooks.progress?.(tally.checked, tally.differences);
    },
  };

  try {
    const limit = new Limiter(plan.write.concurrency);
    if (options.sample !== undefined) {
      const keys = await sampleKeys(plan, sources, options.sample, hooks.signal);
      const priors = options.priors ? await priorsOf(options.priors, keys) : undefined;
      for (let i = 0; i < keys.length && !hooks.signal?.aborted; i += plan.write.batchSize) {
        await limit.run(() => checkKeys(checker, keys.slice(i, i + plan.write.batchSize), { priors }));
      }
    } else {
      const journaled = new SeenKeys();
      if (options.priors) {
        let batch = new Map<string, JournaledKey>();
        const flush = async (): Promise<void> => {
          const priors = batch;
          batch = new Map();
          await limit.run(() =>
            checkKeys(
              checker,
              [...priors.values()].map((j) => j.key),
              { priors },
            ),
          );
        };
        for await (const entry of options.priors) {
          if (hooks.signal?.aborted) break;
          if (!journaled.add(entry.key)) continue;
          batch.set(entry.key.toString('latin1'), entry);
          if (batch.size >= plan.write.batchSize) await flush();
        }
        if (batch.size > 0) await flush();
        await limit.idle();
      }
      await walkSources({
        sources: sources.length,
        signal: hooks.signal,
        limiter: limit,
        scan: plan.write,
        open: async (index) => {
          const side = sources[index]!;
          const { prefix, match } = plan.sources[index]!;
          // A name holding several types (Pika 3.x) is listed once per type: it is checked once, all types.
          const named = side.caps.multiTypeNames ? new SeenKeys() : undefined;
          return {
            ...sourcePass(side, plan, match, true, hooks.log),
            task: (batch) => {
              const units = named ? batch.units.filter((u) => named.add(u.key)) : batch.units;
              const keys = units.map((u) => withPrefix(prefix, u.key));
              const fresh = options.priors ? keys.filter((k) => !journaled.has(k)) : keys;
              return async () => {
                try {
                  await checkKeys(checker, fresh, { firstHolder: index });
                } finally {
                  // A file's records of the batch, held for this check (FileSide.batches).
                  if (side instanceof FileSide) side.release(batch.units.map((u) => u.key));
                }
              };
            },
          };
        },
      });
    }
    await limit.idle();
  } finally {
    await closeAll([target, ...sources]);
  }

  return {
    tool: 'kvmerge',
    command: 'verify',
    version: toolVersion(),
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(now() - started),
    target: { url: redactUrl(plan.target.url) },
    sources: plan.sources.map((s) => ({ name: s.name, url: redactUrl(s.url) })),
    mode: options.priors ? 'journal' : 'no-journal',
    ...(options.sample !== undefined ? { sample: options.sample } : {}),
    checked: tally.checked,
    exact: tally.exact,
    priorsUnused: [...tally.unused].map(([reason, keys]) => ({ reason, keys })),
    differences: tally.differences,
    listed: tally.listed,
    outcome: hooks.signal?.aborted ? 'interrupted' : tally.differences > 0 ? 'different' : 'equal',
  };
}

function keyField(key: Buffer): { key: string } | { keyBase64: string } {
  const text = key.toString('utf8');
  return Buffer.from(text, 'utf8').equals(key) ? { key: text } : { keyBase64: key.toString('base64') };
}
