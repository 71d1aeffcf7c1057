import pLimit, { type LimitFunction } from 'p-limit';
import type { MergePlan, TlsPlan } from '../config/plan.js';
import type { DataType } from '../decide/types.js';
import { ConnectionError } from '../errors.js';
import type { JournaledKey, PriorState } from '../journal/types.js';
import { typeFromReply } from '../probe/probe.js';
import type { Caps } from '../redis/capabilities.js';
import type { NetworkOptions } from '../redis/pipe.js';
import { closeServer, clusterView, openServer, openTransport, type Server } from '../redis/server.js';
import { tlsOptions } from '../redis/tls.js';
import type { Transport } from '../redis/transport.js';
import { redactUrl } from '../redis/url.js';
import { globMatch } from '../scan/glob.js';
import { scanBatches } from '../scan/scanner.js';
import { SeenKeys } from '../scan/seen-keys.js';
import { toolVersion } from '../version.js';
import type { Command } from '../write/commands.js';
import { CODECS } from '../write/native/index.js';
import { formatScore } from '../write/native/zset.js';
import { decodePayload, UnsupportedPayloadError } from '../write/rdb-payload.js';
import { now } from '../write/ttl.js';
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
import { showExpected, showFound } from './show.js';

export interface VerifyOptions {
  /**
   * The run's journal (SPEC §6.2): each key the run touched and its state before. Those keys are
   * checked exactly against fold(prior, sources); every other key as without a journal.
   */
  priors?: AsyncIterable<JournaledKey>;
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

/** An error reply that means the user may not read: exit 2, naming the server. */
function refused(side: Side, reply: Error): ConnectionError {
  return new ConnectionError(
    `${side.label} refused a read: ${reply.message.split('\n')[0]}; verify needs read commands (+@read) on every server`,
  );
}

interface Connected {
  target: Side;
  sources: Side[];
}

const DEFAULT_TOLERANCE_MS = 2_000;
const DEFAULT_MAX_LISTED = 10_000;

/**
 * `kvmerge verify` (SPEC §6.5): compares the target with the fold of SPEC §1 over the sources, under
 * the plan's strategies, prefixes and match patterns. It only reads (TYPE, PTTL, the types' read
 * commands, SCAN), on every server.
 *
 * Every target key that a source holds is checked once: a source's scan checks the keys that no
 * earlier source holds (the earlier one's scan checked the others), reading that key from every
 * source that holds it and from the target, batch by batch, `write.concurrency` batches at once, so
 * memory holds a bounded number of batches (a value is read whole: see README "verify"). With the
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
  const checker: Checker = {
    plan,
    target,
    sources,
    rules,
    record(key, outcomes, found) {
      tally.checked++;
      if (outcomes.some((o) => matches(found, o, rules))) return;
      tally.differences++;
      const difference: Difference = {
        ...keyField(key),
        expected: showExpected(shownOutcome(outcomes, found)),
        found: showFound(found),
      };
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
        const batches = scanBatches(
          side.server.nodes,
          { match, count: plan.write.scanCount, batchSize: plan.write.batchSize },
          new SeenKeys(),
          0,
          side.caps,
          // A cluster: its masters as they are (a failover, a reshard, a master added) are walked.
          clusterView(side.server),
        );
        for await (const batch of batches) {
          if (hooks.signal?.aborted) break;
          const keys = batch.units.map((u) => withPrefix(prefix, u.key));
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
  record(key: Buffer, outcomes: Outcome[], found: Observed | null): void;
  priorUnused(reason: string): void;
  exact(): void;
  batchDone(): void;
}

/**
 * Checks target keys. `firstHolder`: keys held by an earlier source are left to that source's scan,
 * so those sources are asked first (TYPE) and only the rest go on. Then one round trip to every
 * server for the types (only to the sources whose prefix and match admit the key), and one for the
 * values (PTTL and the type's read), then the fold.
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
    keys = keys.filter((_, i) => types.every((perSource) => !perSource[i]));
  }
  if (keys.length === 0) return;
  const sourceKeys = c.plan.sources.map((_, j) => admitted(c.plan, j, keys));
  const [targetTypes, ...sourceTypes] = await Promise.all([
    typesOf(c.target, keys),
    ...c.sources.map((side, j) => typesOf(side, sourceKeys[j]!)),
  ]);
  const [found, ...held] = await Promise.all([
    valuesOf(c.target, keys, targetTypes!),
    ...c.sources.map((side, j) => valuesOf(side, sourceKeys[j]!, sourceTypes[j]!)),
  ]);
  keys.forEach((key, i) => {
    const holders = held
      .map((values) => values[i])
      .filter((v): v is Observed => v !== null && v !== undefined);
    const journaled = opts.priors?.get(key.toString('latin1'));
    let starts = unknownPriors();
    if (journaled) {
      const prior = priorObserved(journaled.prior);
      if (typeof prior === 'string') c.priorUnused(prior);
      else {
        starts = [knownPrior(prior)];
        c.exact();
      }
    }
    c.record(key, foldOutcomes(starts, holders, c.rules), found![i] ?? null);
  });
  c.batchDone();
}

/** Where each target key lives on source `j` (undefined: its prefix or match rules the key out). */
function admitted(plan: MergePlan, j: number, keys: Buffer[]): (Buffer | undefined)[] {
  const { prefix, match } = plan.sources[j]!;
  const pattern = match === undefined ? undefined : Buffer.from(match);
  return keys.map((k) => {
    if (!startsWith(k, prefix)) return undefined;
    const key = k.subarray(prefix.length);
    return pattern === undefined || globMatch(pattern, key) ? key : undefined;
  });
}

/** TYPE of each key (undefined where not asked); a Pika 4 stale TYPE is cleared by the value read. */
async function typesOf(side: Side, keys: (Buffer | undefined)[]): Promise<(DataType | null | undefined)[]> {
  const asked = keys.flatMap((k, i) => (k === undefined ? [] : [i]));
  const replies = await side.pipe.send(asked.map((i): Command => ['TYPE', keys[i]!]));
  const out: (DataType | null | undefined)[] = new Array(keys.length);
  asked.forEach((i, n) => {
    const reply = replies[n];
    if (reply instanceof Error) throw refused(side, reply);
    out[i] = typeFromReply(reply);
  });
  return out;
}

/**
 * The values of the keys that have a type (null: absent or gone), with their TTLs: PTTL and the
 * type's own read (a module type: PTTL alone, it is compared by type). A key deleted since TYPE
 * (PTTL -2, a stale TYPE on Pika 4, an error reply) or holding another type by now reads as gone.
 */
async function valuesOf(
  side: Side,
  keys: (Buffer | undefined)[],
  types: (DataType | null | undefined)[],
): Promise<(Observed | null)[]> {
  const asks: Command[] = [];
  const plan: { i: number; type: DataType; at: number; count: number }[] = [];
  keys.forEach((key, i) => {
    const type = types[i];
    if (key === undefined || !type) return;
    const reads = type === 'other' ? [] : CODECS[type].read(key, side.caps);
    plan.push({ i, type, at: asks.length, count: reads.length + 1 });
    asks.push(['PTTL', key], ...reads);
  });
  const replies = asks.length > 0 ? await side.pipe.send(asks) : [];
  const out: (Observed | null)[] = new Array(keys.length).fill(null);
  for (const { i, type, at, count } of plan) {
    const [pttl, ...valueReplies] = replies.slice(at, at + count);
    // A refusal (NOPERM, a lost server) is an error of the check; WRONGTYPE means the key changed type.
    const refusal = [pttl, ...valueReplies].find(
      (r) => r instanceof Error && !r.message.startsWith('WRONGTYPE'),
    );
    if (refusal) throw refused(side, refusal as Error);
    if (pttl === -2 || valueReplies.some((r) => r instanceof Error)) continue;
    // Where streams have no TTL (Pika), PTTL says nothing about one.
    const ttl =
      typeof pttl !== 'number' || pttl < 0 || (type === 'stream' && !side.caps.streamTtl) ? null : pttl;
    if (type === 'other') {
      out[i] = { type, value: undefined, ttl };
      continue;
    }
    const value = CODECS[type].decode(valueReplies, side.caps);
    if (value !== null) out[i] = { type, value, ttl };
  }
  return out;
}

/** A journaled prior as a value, or the reason it cannot be one (the key is then checked without it). */
function priorObserved(prior: PriorState): Observed | null | string {
  if (prior.kind === 'absent') return null;
  const ttl = prior.expireAt === null ? null : prior.expireAt - Date.now();
  if (prior.kind === 'native') {
    const type = prior.type as DataType;
    return { type, value: fromImage(type, prior.value), ttl };
  }
  try {
    const { type, value } = decodePayload(prior.payload);
    return { type, value, ttl };
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
    const batches = scanBatches(
      side.server.nodes,
      { match, count: plan.write.scanCount, batchSize: plan.write.batchSize },
      new SeenKeys(),
      0,
      side.caps,
      clusterView(side.server),
    );
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
    const server = await openServer(url, 'source', label, network);
    try {
      const caps = server.caps;
      if (caps.multiTypeNames) {
        throw new ConnectionError(
          `${label} (${redactUrl(url)}) is ${caps.kind} ${caps.version}, where one name holds several types: verify does not check those yet`,
        );
      }
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

function withPrefix(prefix: Buffer, key: Buffer): Buffer {
  return prefix.length > 0 ? Buffer.concat([prefix, key]) : key;
}

function startsWith(buf: Buffer, prefix: Buffer): boolean {
  return buf.length >= prefix.length && buf.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

function keyField(key: Buffer): { key: string } | { keyBase64: string } {
  const text = key.toString('utf8');
  return Buffer.from(text, 'utf8').equals(key) ? { key: text } : { keyBase64: key.toString('base64') };
}
