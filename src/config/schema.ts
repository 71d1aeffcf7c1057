import * as z from 'zod';
import {
  HASH_FIELD_WINNERS,
  LIST_MERGES,
  MISMATCH_POLICIES,
  STRATEGIES,
  TTL_RULES,
  UNMERGEABLE_TYPES,
  ZSET_SCORE_RULES,
} from '../types/strategy.js';
import { ON_ERROR, WRITE_MODES } from './plan.js';

/*
 * The YAML configuration of SPEC §3.1, and the only place where its defaults are written down. The
 * descriptions are what an error message offers as the accepted values, so they are written for users.
 *
 * Numbers and booleans also accept their string spelling because `${VAR}` substitution (SPEC §3.2)
 * produces strings: `concurrency: ${WRITERS}` must work.
 */

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values).describe(values.join(' | '));

const integer = (min: 0 | 1) =>
  z
    .preprocess((v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v), z.int().min(min))
    .describe(min === 1 ? 'a positive integer' : 'an integer >= 0');

const boolean = () =>
  z
    .preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean())
    .describe('true | false');

export const strategySchema = oneOf(STRATEGIES);
// Strings and streams cannot be merged: their accepted values are said without `merge` (the schema still
// takes it, so that the loader can explain why it is refused).
const unmergeableStrategySchema = strategySchema.describe(
  STRATEGIES.filter((s) => s !== 'merge').join(' | '),
);
/** The strategy schema of one type, whose description lists only what that type accepts. */
export function strategySchemaFor(type: string): typeof strategySchema {
  return (UNMERGEABLE_TYPES as readonly string[]).includes(type) ? unmergeableStrategySchema : strategySchema;
}
export const mismatchSchema = oneOf(MISMATCH_POLICIES);
export const writeModeSchema = oneOf(WRITE_MODES);
export const positiveIntSchema = integer(1);

/**
 * 100000000 as "100,000,000", by hand: the first toLocaleString of a process loads ICU's number
 * formatting, 4 MiB of resident memory in every run for the descriptions below (a run over two empty
 * databases: 77 against 73 MiB).
 */
const grouped = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/**
 * A count with a ceiling, where a larger one is a mistake that would only show as memory or a stalled
 * server much later (100,000,000 keys in one pipeline).
 */
const atMost = (max: number, min: 0 | 1 = 1) =>
  z
    .preprocess(
      (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
      z.int().min(min).max(max),
    )
    .describe(
      min === 1 ? `a positive integer up to ${grouped(max)}` : `an integer from 0 to ${grouped(max)}`,
    );
/** Keys per batch: a batch's values are in memory at once, `concurrency` of them. */
export const batchSizeSchema = atMost(100_000);
/** Batches in flight. */
export const concurrencySchema = atMost(1_024);
/** SCAN COUNT: past this, one SCAN call blocks a single-threaded server for a noticeable time. */
export const scanCountSchema = atMost(1_000_000);
/** Follow: a day between passes over a source without notifications is already no follow at all. */
export const followIntervalSchema = atMost(86_400);
/** Follow: pending changed keys are held in memory. */
export const followMaxPendingSchema = atMost(100_000_000);
/** Keys a second over all sources (a flag: 1 or more; in the file 0 also means no cap). */
export const rateSchema = atMost(100_000_000);
/** A source's p99 latency ceiling, in milliseconds (a flag: 1 or more; in the file 0 also means off). */
export const maxSourceLatencySchema = atMost(600_000);
/** Elements past which a key is copied in windows: above this, one window would be the whole key anyway. */
export const bigKeyElementsSchema = atMost(100_000_000);
/** Bytes past which a key is copied in windows: a whole value larger than Redis's 512 MB bulk limit cannot travel. */
export const bigKeyBytesSchema = atMost(512 * 1024 * 1024);
/**
 * Bytes up to which a big key's copy travels as one DUMP payload streamed into RESTORE (0: never); 4 GiB
 * is past any payload a server takes (proto-max-bulk-len, itself capped by the query buffer's limit).
 */
export const payloadMaxBytesSchema = atMost(4 * 1024 * 1024 * 1024, 0);
export const globSchema = z.string().min(1).describe('a non-empty SCAN MATCH glob (omit it for every key)');
export const fileNameSchema = z.string().describe('a file name');
const urlSchema = z.string().describe(`a redis:// or rediss:// URL`);

// TLS for a rediss:// URL. "" (the example's value) means not set, like leaving the field out.
const tlsSchema = z.strictObject({
  ca: fileNameSchema.optional(),
  cert: fileNameSchema.optional(),
  key: fileNameSchema.optional(),
  insecure: boolean().default(false),
});

export const onErrorSchema = oneOf(ON_ERROR);

const sourceSchema = z.strictObject({
  url: urlSchema,
  name: z.string().min(1).optional().describe('a non-empty name (default: host:port/db)'),
  match: globSchema.optional(),
  prefix: z.string().default('').describe('a string prepended to every key'),
  tls: tlsSchema.optional(),
});

// The per-type strategies have no default of their own: an unset one inherits `default`, and the
// loader must know which it was (an inherited `merge` is blamed on `default`, and `--on-conflict`
// replaces the file's per-type values).
const strategiesSchema = z.strictObject({
  default: strategySchema.default('skip'),
  string: unmergeableStrategySchema.optional(),
  hash: strategySchema.optional(),
  set: strategySchema.optional(),
  zset: strategySchema.optional(),
  list: strategySchema.optional(),
  stream: unmergeableStrategySchema.optional(),
});

export const hashFieldSchema = oneOf(HASH_FIELD_WINNERS);
export const zsetScoreSchema = oneOf(ZSET_SCORE_RULES);
export const listMergeSchema = oneOf(LIST_MERGES);
export const ttlRuleSchema = oneOf(TTL_RULES);

const mergeSchema = z.strictObject({
  hashField: hashFieldSchema.default('source'),
  zsetScore: zsetScoreSchema.default('source'),
  list: listMergeSchema.default('append'),
  ttl: ttlRuleSchema.default('max'),
});

const writeSchema = z.strictObject({
  mode: writeModeSchema.default('auto'),
  concurrency: concurrencySchema.default(8),
  // 512 rather than 256: half the round trips and socket writes per key, 6-12% less wall time and CPU
  // on a copy of the bench's data at the same peak RSS (docs/performance.md: "Batches of 512 keys by
  // default").
  batchSize: batchSizeSchema.default(512),
  scanCount: scanCountSchema.default(1000),
  bigKeyElements: bigKeyElementsSchema.default(10000),
  bigKeyBytes: bigKeyBytesSchema.default(16 * 1024 * 1024),
  payloadMaxBytes: payloadMaxBytesSchema.default(512 * 1024 * 1024),
});

const reportSchema = z.strictObject({
  // "" (the example's value) means no file, like leaving it out.
  file: fileNameSchema.optional(),
  sample: integer(0).default(100),
});

const safetySchema = z.strictObject({
  onError: onErrorSchema.default('stop'),
  // "" means no file.
  failedKeys: fileNameSchema.optional(),
  // The journal of SPEC §6.2 ("" means none); resume: continue the run it records (§6.3).
  backup: fileNameSchema.optional(),
  resume: boolean().default(false),
});

/** A duration; past `max` it is a typo (a unit mistaken), and a hang that long would look like a bug. */
const milliseconds = (max: number) =>
  atMost(max).describe(`a number of milliseconds from 1 to ${grouped(max)}`);
export const connectTimeoutSchema = milliseconds(600_000);
export const commandTimeoutSchema = milliseconds(3_600_000);
export const retryBudgetSchema = milliseconds(86_400_000);

const networkSchema = z.strictObject({
  connectTimeoutMs: connectTimeoutSchema.default(5_000),
  commandTimeoutMs: commandTimeoutSchema.default(15_000),
  retryBudgetMs: retryBudgetSchema.default(30_000),
});

// SPEC §9: the live merge after the snapshot.
const followSchema = z.strictObject({
  enabled: boolean().default(false),
  untilCaughtUp: boolean().default(false),
  intervalSeconds: followIntervalSchema.default(60),
  maxPending: followMaxPendingSchema.default(1_000_000),
  setNotifyConfig: boolean().default(false),
});

// SPEC §9.5: protecting production sources, snapshot and follow alike (absent or 0: no cap).
const throttleSchema = z.strictObject({
  rate: atMost(100_000_000, 0).optional(),
  maxSourceLatencyMs: atMost(600_000, 0).optional(),
});

export const configSchema = z.strictObject({
  version: z.literal(1).optional().describe('1'),
  sources: z.array(sourceSchema).optional().describe('a list of sources, each with a url'),
  target: z.strictObject({ url: urlSchema, tls: tlsSchema.optional() }).optional(),
  // Sources without a `match` of their own use this one.
  match: globSchema.optional(),
  strategies: strategiesSchema.prefault({}),
  typeMismatch: mismatchSchema.default('skip'),
  merge: mergeSchema.prefault({}),
  write: writeSchema.prefault({}),
  report: reportSchema.prefault({}),
  safety: safetySchema.prefault({}),
  network: networkSchema.prefault({}),
  follow: followSchema.prefault({}),
  throttle: throttleSchema.prefault({}),
  dryRun: boolean().default(false),
  // Only meaningful with dryRun; the loader refuses it otherwise.
  failOnConflict: boolean().default(false),
});

export type ConfigDoc = z.output<typeof configSchema>;

/** The built-in defaults, as the schema gives them to an empty document. */
export const CONFIG_DEFAULTS: ConfigDoc = configSchema.parse({});

/** The built-in default of the field at a dotted path (`write.concurrency`), undefined when it has none. */
export function schemaDefault(path: string): unknown {
  let node: unknown = CONFIG_DEFAULTS;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

type Schema = z.ZodType;
export type PathPart = string | number;

/** One wrapper that does not change what a field holds (optional, default, preprocess) removed. */
function peel(s: Schema): Schema | undefined {
  if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodPrefault) {
    return s.unwrap() as Schema;
  }
  if (s instanceof z.ZodPipe) return s.out as Schema;
  return undefined;
}

function unwrap(schema: Schema): Schema {
  let s = schema;
  for (let next = peel(s); next; next = peel(s)) s = next;
  return s;
}

/** The schema of the field at `path` (array indices are any number), or undefined for an unknown field. */
export function fieldSchemaAt(path: readonly PathPart[]): Schema | undefined {
  let s: Schema = configSchema;
  for (const part of path) {
    const inner = unwrap(s);
    if (typeof part === 'number' && inner instanceof z.ZodArray) s = inner.element as Schema;
    else if (typeof part === 'string' && inner instanceof z.ZodObject && part in inner.shape) {
      s = inner.shape[part] as Schema;
    } else return undefined;
  }
  return s;
}

/** The field names a mapping at `path` accepts, or undefined when `path` is not a mapping. */
export function fieldNamesAt(path: readonly PathPart[]): string[] | undefined {
  const s = fieldSchemaAt(path);
  const inner = s && unwrap(s);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : undefined;
}

/** What a field accepts, in words, for error messages: the outermost description, else its shape. */
export function describeField(path: readonly PathPart[]): string | undefined {
  const field = fieldSchemaAt(path);
  for (let s = field; s; s = peel(s)) if (s.description) return s.description;
  const inner = field && unwrap(field);
  if (inner instanceof z.ZodObject) return `a mapping with the fields ${Object.keys(inner.shape).join(', ')}`;
  if (inner instanceof z.ZodArray) return 'a list';
  if (inner instanceof z.ZodString) return 'a string';
  return undefined;
}

/**
 * Every field of the configuration as a path (`write.concurrency`, `sources[].url`), parents before
 * children. The test of config.example.yaml checks that each one appears in it.
 */
export function configFieldPaths(): string[] {
  const out: string[] = [];
  const walk = (schema: Schema, prefix: string): void => {
    const inner = unwrap(schema);
    if (inner instanceof z.ZodArray) walk(inner.element as Schema, `${prefix}[]`);
    else if (inner instanceof z.ZodObject) {
      for (const [key, child] of Object.entries(inner.shape)) {
        const path = prefix ? `${prefix}.${key}` : key;
        out.push(path);
        walk(child as Schema, path);
      }
    }
  };
  walk(configSchema, '');
  return out;
}
