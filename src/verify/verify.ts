import pLimit, { type LimitFunction } from 'p-limit';
import { ConnectionError } from '../common/errors.js';
import { toolVersion } from '../common/version.js';
import type { MergePlan, TlsPlan } from '../config/plan.js';
import { tlsOptions } from '../config/tls.js';
import { parseRedisUrl, redactUrl } from '../config/url.js';
import type { WindowLoader } from '../journal/reader.js';
import type { JournaledKey, PriorState } from '../journal/types.js';
import { askTypes, TYPE_ORDER } from '../probe/probe.js';
import { type ScanBatch, scanBatches } from '../scan/scanner.js';
import { SeenKeys } from '../scan/seen-keys.js';
import { sourceKeyOf } from '../scan/source-key.js';
import type { Caps } from '../servers/caps.js';
import { now } from '../servers/clock.js';
import { classifyReply } from '../servers/errors/classify.js';
import type { Command } from '../servers/resp.js';
import { closeServer, clusterView, openServer, openTransport, type Server } from '../servers/server.js';
import type { NetworkOptions } from '../servers/socket.js';
import type { Transport } from '../servers/transport.js';
import type { DataType, NativeType } from '../types/strategy.js';
import { CODECS } from '../write/native/index.js';
import { formatScore } from '../write/native/zset.js';
import { decodePayload, UnsupportedPayloadError } from '../write/rdb-payload.js';
import { checkBig, isBig } from './big.js';
import {
  foldOutcomes,
  knownPrior,
  matches,
  type Observed,
  type Outcome,
  type Rules,
  shownOutcome,
  unknownPriors,
} from './expect.js';
import { type FieldTtls, fieldTtlMismatch, fieldTtlsOf, keepsFieldTtls } from './field-ttls.js';
import { showExpected, showFound } from './show.js';
import { JournalValue, type Mismatch, RemoteValue, refused } from './windowed.js';

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

interface Side {
  /** The server or whole cluster the URL names: its masters are scanned. */
  server: Server;
  pipe: Transport;
  caps: Caps;
  /** `target` or `source NAME`, with the URL redacted: for messages. */
  label: string;
}

interface Connected {
  target: Side;
  sources: Side[];
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
 */
export async function verify(
  plan: MergePlan,
  options: VerifyOptions = {},
  hooks: VerifyHooks = {},
): Promise<VerifyReport> {
  const startedAt = new Date();
  const started = now();
  const { target, sources } = await connectAll(plan);
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
    const limit = new Limit(plan.write.concurrency);
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
      for (let index = 0; index < sources.length && !hooks.signal?.aborted; index++) {
        const side = sources[index]!;
        const { prefix, match } = plan.sources[index]!;
        const batches = scanSide(plan, side, match, hooks.log);
        // A name holding several types (Pika 3.x) is listed once per type: it is checked once, all types.
        const named = side.caps.multiTypeNames ? new SeenKeys() : undefined;
        for await (const batch of batches) {
          if (hooks.signal?.aborted) break;
          const units = named ? batch.units.filter((u) => named.add(u.key)) : batch.units;
          const keys = units.map((u) => withPrefix(prefix, u.key));
          const fresh = options.priors ? keys.filter((k) => !journaled.has(k)) : keys;
          await limit.run(() => checkKeys(checker, fresh, { firstHolder: index }));
        }
        await limit.idle();
      }
    }
    await limit.idle();
  } finally {
    for (const side of [target, ...sources]) side.pipe.close();
    await Promise.all([target, ...sources].map((s) => closeServer(s.server)));
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

interface Checker {
  plan: MergePlan;
  target: Side;
  sources: Side[];
  rules: Rules;
  /** Reads the journal's windows of a big key's prior (VerifyOptions.windows). */
  windows?: WindowLoader;
  /** `origin`: the field TTLs of a value as read (a source's or the prior's), by the value itself. */
  record(
    key: Buffer,
    outcomes: Outcome[],
    found: Observed | null,
    origin: (value: unknown) => FieldTtls | undefined,
  ): void;
  /** A key compared in windows: what differs, or null. */
  recordBig(key: Buffer, mismatch: Mismatch | null): void;
  priorUnused(reason: string): void;
  exact(): void;
  batchDone(): void;
}

/**
 * Checks target keys. `firstHolder`: keys held by an earlier source are left to that source's scan,
 * so those sources are asked first (their types) and only the rest go on. Then one round trip to
 * every server for the types (only to the sources whose prefix and match admit the key), one for
 * PTTL and sizes, one for the values that are not big, then the fold.
 *
 * The unit is (key, type) (SPEC §7): where a name holds several types (Pika 3.x), a source gives one
 * value per type, folded in TYPE_ORDER after the previous source's; a target of that kind keeps each
 * type beside the others, so each type of the name is its own fold and its own check (its prior is
 * absent or of that type).
 */
async function checkKeys(
  c: Checker,
  all: Buffer[],
  opts: { firstHolder?: number; priors?: Map<string, JournaledKey> },
): Promise<void> {
  let keys = all;
  if (opts.firstHolder) {
    const earlier = c.sources.slice(0, opts.firstHolder);
    const types = await Promise.all(earlier.map((side, j) => typesOf(side, admitted(c.plan, j, keys))));
    keys = keys.filter((_, i) => types.every((perSource) => !perSource[i]?.length));
  }
  if (keys.length === 0) return;
  const sourceKeys = c.plan.sources.map((_, j) => admitted(c.plan, j, keys));
  const [targetTypes, ...sourceTypes] = await Promise.all([
    typesOf(c.target, keys),
    ...c.sources.map((side, j) => typesOf(side, sourceKeys[j]!)),
  ]);
  const [found, ...held] = await Promise.all([
    valuesOf(c.target, keys, targetTypes!, c.plan.write),
    ...c.sources.map((side, j) => valuesOf(side, sourceKeys[j]!, sourceTypes[j]!, c.plan.write)),
  ]);
  const multiTarget = c.target.caps.multiTypeNames;
  // The journal's priors of these keys as values; a big one is walked in the journal when compared.
  const priors = new Map<Buffer, Observed | null | string>();
  for (const key of multiTarget ? [] : keys) {
    const journaled = opts.priors?.get(key.toString('latin1'));
    if (journaled) priors.set(key, await priorObserved(journaled.prior, c.windows));
  }
  const big: { key: Buffer; starts: Outcome[]; holders: Observed[]; found: Observed | null }[] = [];
  keys.forEach((key, i) => {
    // Every source's values of the key in declared order (several types of one name in TYPE_ORDER).
    const holders = held.flatMap((values) => values[i] ?? []);
    const journaled = opts.priors?.get(key.toString('latin1'));
    let starts = unknownPriors();
    if (journaled && multiTarget) c.priorUnused(MULTI_TYPE_PRIOR);
    else if (journaled) {
      const prior = priors.get(key)!;
      if (typeof prior === 'string') c.priorUnused(prior);
      else {
        starts = [knownPrior(prior)];
        c.exact();
      }
    }
    const steps: { starts: Outcome[]; holders: Observed[]; found: Observed | null }[] = [];
    if (!multiTarget) steps.push({ starts, holders, found: found![i]?.[0] ?? null });
    else {
      const onTarget = found![i] ?? [];
      const types = new Set([...onTarget, ...holders].map((o) => o.type));
      for (const type of TYPE_ORDER.filter((t) => types.has(t))) {
        steps.push({
          starts: starts.filter((s) => s.kind === 'absent' || s.type === type),
          holders: holders.filter((h) => h.type === type),
          found: onTarget.find((o) => o.type === type) ?? null,
        });
      }
    }
    // Field TTLs by value: an outcome that is one of these values kept whole is compared with its field TTLs.
    const origins = new Map<unknown, FieldTtls | undefined>();
    for (const o of [...holders, ...starts]) {
      if ('value' in o && (!('kind' in o) || o.kind === 'exact'))
        origins.set(o.value, (o as Observed).fieldTtls);
    }
    for (const step of steps) {
      const bigPrior = step.starts.some((s) => s.kind === 'exact' && isBig(s));
      if (bigPrior || isBig(step.found) || step.holders.some(isBig)) big.push({ key, ...step });
      else c.record(key, foldOutcomes(step.starts, step.holders, c.rules), step.found, (v) => origins.get(v));
    }
  });
  // One big key at a time within a batch: a few windows of it in memory.
  for (const b of big) c.recordBig(b.key, await checkBig(b.starts, b.holders, b.found, c.rules));
  c.batchDone();
}

/** Why journaled priors are not used on a Pika 3.x target (README "Not yet": journal on Pika 3.x). */
const MULTI_TYPE_PRIOR =
  'the target keeps several types under one name (Pika 3.x): priors are not matched to types';

/** Where each target key lives on source `j` (undefined: its prefix or match rules the key out). */
function admitted(plan: MergePlan, j: number, keys: Buffer[]): (Buffer | undefined)[] {
  return keys.map((k) => sourceKeyOf(plan.sources[j]!, k));
}

/**
 * The types each key holds (undefined where not asked): one where a name holds one type, every type
 * of the name in TYPE_ORDER where it holds several (Pika 3.x: PTYPE and XLEN), a Pika 4 stale TYPE
 * cleared (EXISTS, XLEN), as the merge's probe asks them (probe.ts), never by script: verify only
 * reads with read commands.
 */
async function typesOf(side: Side, keys: (Buffer | undefined)[]): Promise<(DataType[] | undefined)[]> {
  const asked = keys.flatMap((k, i) => (k === undefined ? [] : [i]));
  let types: DataType[][];
  try {
    types = await askTypes(
      { pipe: side.pipe, caps: { ...side.caps, batchScripts: false } },
      asked.map((i) => keys[i]!),
    );
  } catch (err) {
    if (err instanceof Error && !(err instanceof ConnectionError) && err.name !== 'ServerLostError') {
      throw refused(side, err);
    }
    throw err;
  }
  const out: (DataType[] | undefined)[] = new Array(keys.length);
  asked.forEach((i, n) => {
    out[i] = types[n];
  });
  return out;
}

/** write.bigKeyElements and write.bigKeyBytes (SPEC §2.3): over either, a value is compared in windows. */
type BigKeyLimits = Pick<MergePlan['write'], 'bigKeyElements' | 'bigKeyBytes'>;

/**
 * The values of the keys that have a type (null: absent or gone), with their TTLs. One round trip
 * asks PTTL, the size (the type's count, and MEMORY USAGE where the server answers it) of each key;
 * a second reads the values that are not big whole (the type's own read; a module type: PTTL alone,
 * it is compared by type). A big value is not read here: it comes back as a RemoteValue, read in
 * windows when it is compared (windowed.ts). A key deleted since TYPE (PTTL -2, a stale TYPE on
 * Pika 4, an error reply) or holding another type by now reads as gone.
 */
async function valuesOf(
  side: Side,
  keys: (Buffer | undefined)[],
  types: (DataType[] | undefined)[],
  limits: BigKeyLimits,
): Promise<Observed[][]> {
  const asks: Command[] = [];
  const sized: { i: number; type: DataType; at: number; memory: boolean }[] = [];
  keys.forEach((key, i) => {
    if (key === undefined) return;
    for (const type of types[i] ?? []) {
      const memory = type !== 'other' && side.caps.memoryUsage;
      sized.push({ i, type, at: asks.length, memory });
      asks.push(['PTTL', key]);
      if (type !== 'other') asks.push(CODECS[type].count(key));
      if (memory) asks.push(['MEMORY', 'USAGE', key, 'SAMPLES', 5]);
    }
  });
  const sizes = asks.length > 0 ? await side.pipe.send(asks) : [];
  const out: Observed[][] = keys.map(() => []);
  const reads: Command[] = [];
  const plan: { i: number; type: DataType; ttl: number | null; at: number; count: number; dump: boolean }[] =
    [];
  for (const { i, type, at, memory } of sized) {
    const pttl = sizes[at];
    const count = type === 'other' ? undefined : sizes[at + 1];
    // MEMORY USAGE may be denied to a read-only user: the count decides alone then.
    const bytes = memory ? sizes[at + 2] : undefined;
    // A refusal (NOPERM, a lost server) is an error of the check; WRONGTYPE means the key changed type.
    const refusal = [pttl, count].find((r) => r instanceof Error && classifyReply(r) !== 'wrongtype');
    if (refusal) throw refused(side, refusal as Error);
    // Where a stream keeps no TTL, PTTL may say -2 of a live one (Pika 3.x): its entries decide.
    const noTtl = type === 'stream' && !side.caps.streamTtl;
    if ((pttl === -2 && !noTtl) || count instanceof Error) continue;
    // Where streams have no TTL (Pika), PTTL says nothing about one.
    const ttl =
      typeof pttl !== 'number' || pttl < 0 || (type === 'stream' && !side.caps.streamTtl) ? null : pttl;
    if (type === 'other') {
      out[i]!.push({ type, value: undefined, ttl });
      continue;
    }
    const n = typeof count === 'number' ? count : 0;
    const big =
      type === 'string'
        ? n > limits.bigKeyBytes
        : n > limits.bigKeyElements || (typeof bytes === 'number' && bytes > limits.bigKeyBytes);
    if (big) {
      out[i]!.push({ type, value: new RemoteValue(side, keys[i]!, type, n), ttl });
      continue;
    }
    const commands = CODECS[type].read(keys[i]!, side.caps);
    // A hash's field TTLs (Redis 7.4+) are in its DUMP payload only (field-ttls.ts).
    const dump = type === 'hash' && keepsFieldTtls(side.caps);
    plan.push({ i, type, ttl, at: reads.length, count: commands.length, dump });
    reads.push(...commands);
    if (dump) reads.push(['DUMP', keys[i]!]);
  }
  const replies = reads.length > 0 ? await side.pipe.send(reads) : [];
  for (const { i, type, ttl, at, count, dump } of plan) {
    const valueReplies = replies.slice(at, at + count);
    const refusal = valueReplies.find((r) => r instanceof Error && classifyReply(r) !== 'wrongtype');
    if (refusal) throw refused(side, refusal as Error);
    if (valueReplies.some((r) => r instanceof Error)) continue;
    const value = CODECS[type as NativeType].decode(valueReplies, side.caps);
    // A DUMP the user may not make leaves the field TTLs unknown (not compared), as where none are kept.
    const fieldTtls = dump ? fieldTtlsOf(replies[at + count]) : undefined;
    if (value !== null) out[i]!.push({ type, value, ttl, ...(fieldTtls ? { fieldTtls } : {}) });
  }
  return out;
}

/** A journaled prior as a value, or the reason it cannot be one (the key is then checked without it). */
async function priorObserved(prior: PriorState, windows?: WindowLoader): Promise<Observed | null | string> {
  if (prior.kind === 'absent') return null;
  const ttl = prior.expireAt === null ? null : prior.expireAt - Date.now();
  if (prior.kind === 'native') {
    const type = prior.type as DataType;
    return { type, value: fromImage(type, prior.value), ttl };
  }
  if (prior.kind === 'windows') {
    // A big key's prior, journaled in windows: walked in the journal when it is compared.
    if (!windows)
      return 'prior journaled in windows (a big key), and no reader of its windows: checked as if unknown';
    return { type: prior.type, value: await JournalValue.open(prior.type, prior.at, windows), ttl };
  }
  try {
    const { type, value, fieldExpiries } = decodePayload(prior.payload);
    const fieldTtls = fieldExpiries && new Map(fieldExpiries.map(([f, at]) => [f.toString('latin1'), at]));
    return { type, value, ttl, ...(type === 'hash' ? { fieldTtls: fieldTtls ?? new Map() } : {}) };
  } catch (err) {
    if (err instanceof UnsupportedPayloadError) return `prior payload not decoded: ${err.message}`;
    throw err;
  }
}

/**
 * A journal's native image (journal/types.ts: hash as [field, value][], zset as [member, score][])
 * in the codecs' form (flat arrays, zset score first).
 */
function fromImage(type: DataType, value: unknown): unknown {
  if (type === 'hash' && Array.isArray(value) && Array.isArray(value[0])) return (value as Buffer[][]).flat();
  if (type === 'zset' && Array.isArray(value) && Array.isArray(value[0])) {
    return (value as [Buffer, number | Buffer][]).flatMap(([m, s]) => [
      typeof s === 'number' ? formatScore(s) : s,
      m,
    ]);
  }
  return value;
}

/**
 * Up to `n` target keys chosen uniformly from the keys the sources hold (a reservoir over the scans;
 * a key held by several sources is one key, so a few fewer may come back). Memory: n keys.
 */
async function sampleKeys(
  plan: MergePlan,
  sources: Side[],
  n: number,
  signal?: AbortSignal,
): Promise<Buffer[]> {
  const chosen: Buffer[] = [];
  const ids = new Set<string>();
  let seen = 0;
  for (const [index, side] of sources.entries()) {
    const { prefix, match } = plan.sources[index]!;
    const batches = scanSide(plan, side, match);
    for await (const batch of batches) {
      if (signal?.aborted) return chosen;
      for (const unit of batch.units) {
        const key = withPrefix(prefix, unit.key);
        const id = key.toString('latin1');
        if (ids.has(id)) continue;
        seen++;
        if (chosen.length < n) {
          chosen.push(key);
          ids.add(id);
        } else {
          const slot = Math.floor(Math.random() * seen);
          if (slot < n) {
            ids.delete(chosen[slot]!.toString('latin1'));
            chosen[slot] = key;
            ids.add(id);
          }
        }
      }
    }
  }
  return chosen;
}

/** The journaled priors of the sampled keys (memory: the sample's). */
async function priorsOf(
  priors: AsyncIterable<JournaledKey>,
  keys: Buffer[],
): Promise<Map<string, JournaledKey>> {
  const wanted = new Set(keys.map((k) => k.toString('latin1')));
  const out = new Map<string, JournaledKey>();
  for await (const entry of priors) {
    const id = entry.key.toString('latin1');
    if (wanted.has(id) && !out.has(id)) out.set(id, entry);
  }
  return out;
}

/** Connections that only read: the target as much as the sources. */
async function connectAll(plan: MergePlan): Promise<Connected> {
  const opened: Side[] = [];
  const open = async (url: string, label: string, tls: TlsPlan | undefined): Promise<Side> => {
    const network: NetworkOptions = { ...plan.network, tls: tlsOptions(tls) };
    const server = await openServer(parseRedisUrl(url, 'sources[].url'), 'source', label, network);
    try {
      const caps = server.caps;
      const pipe = await openTransport(server, label, network);
      const side = { server, pipe, caps, label: `${label} ${redactUrl(url)}` };
      opened.push(side);
      return side;
    } catch (err) {
      await closeServer(server);
      throw err;
    }
  };
  try {
    const target = await open(plan.target.url, 'target', plan.target.tls);
    const sources: Side[] = [];
    for (const s of plan.sources) sources.push(await open(s.url, `source ${s.name}`, s.tls));
    return { target, sources };
  } catch (err) {
    for (const side of opened) side.pipe.close();
    await Promise.all(opened.map((s) => closeServer(s.server)));
    if (err instanceof Error && !(err instanceof ConnectionError) && err.name === 'ServerLostError') {
      throw new ConnectionError(err.message);
    }
    throw err;
  }
}

/**
 * Batches checked at most `n` at once (p-limit), with back-pressure: run() returns once a slot is free,
 * so the scan never runs more than `n` batches ahead; the first failure is thrown by a later run() or
 * by idle().
 */
class Limit {
  private readonly limit: LimitFunction;
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;

  constructor(n: number) {
    this.limit = pLimit(n);
  }

  async run(task: () => Promise<void>): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const p = this.limit(task).catch((err: unknown) => {
      this.failure ??= err;
    });
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    // p-limit runs n at once and queues the rest: wait until nothing waits behind the n.
    while (this.limit.pendingCount > 0) await Promise.race(this.running);
  }

  async idle(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure !== undefined) throw this.failure;
  }
}

/** The keys of one side, in batches, each once: as the merge scans it. */
function scanSide(
  plan: MergePlan,
  side: Side,
  match: string | undefined,
  log?: (line: string) => void,
): AsyncGenerator<ScanBatch> {
  return scanBatches(
    side.server.nodes,
    {
      match,
      count: plan.write.scanCount,
      batchSize: plan.write.batchSize,
      server: side.label,
      ...(log ? { log } : {}),
    },
    new SeenKeys(),
    0,
    side.caps,
    // A cluster: its masters as they are (a failover, a reshard, a master added) are walked.
    clusterView(side.server),
  );
}

function withPrefix(prefix: Buffer, key: Buffer): Buffer {
  return prefix.length > 0 ? Buffer.concat([prefix, key]) : key;
}

function keyField(key: Buffer): { key: string } | { keyBase64: string } {
  const text = key.toString('utf8');
  return Buffer.from(text, 'utf8').equals(key) ? { key: text } : { keyBase64: key.toString('base64') };
}

/**
 * The field TTL difference of a hash that matched `passing` by value and TTL, or null: it passes when
 * some outcome holds no value kept whole from a side that keeps field TTLs (a merge, an unknown prior)
 * or has the same field TTLs within the tolerance.
 */
function fieldTtlDifference(
  passing: Outcome[],
  found: Observed | null,
  origin: (value: unknown) => FieldTtls | undefined,
  rules: Rules,
): { expected: string; found: string } | null {
  if (found?.type !== 'hash' || !found.fieldTtls) return null;
  let first: { expected: string; found: string } | null = null;
  for (const outcome of passing) {
    const expected = outcome.kind === 'exact' ? origin(outcome.value) : undefined;
    if (!expected) return null;
    const mismatch = fieldTtlMismatch(expected, found.fieldTtls, rules.ttlToleranceMs);
    if (!mismatch) return null;
    first ??= mismatch;
  }
  return first;
}
