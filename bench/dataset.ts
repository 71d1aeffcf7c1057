import type { Writable } from 'node:stream';
import { BENCH_TYPES, type BenchType } from './options.js';
import { pipeInto } from './pipe.js';
import { prng } from './prng.js';
import { type RespArg, RespEncoder, writeChunks } from './resp.js';

/*
 * The benchmark's data: per source, `keys` small keys of the `mix` types and, with --big, one hash, set,
 * zset and list of about `bigMb` MB each. Generated as RESP in memory and fed to `redis-cli --pipe`
 * (one per source, all at once), so loading 300 000 keys takes seconds.
 *
 * Key names are `s<source>:<type>:<n>`: distinct across sources (so the expected target size is the sum),
 * and `n` says whether the merge contender pre-loads the key on the target (even n, see isPreloaded).
 *
 * Payload bytes, the unit of the MB/s column: the bytes of the key names, string values, hash fields and
 * values, set/list/zset members, plus 8 per zset score (a double). The same for every contender, so MB/s
 * is keys/s scaled by the mean key size, whatever each tool sends over the wire.
 */

export interface DatasetSpec {
  sources: number;
  keys: number;
  mix: Record<BenchType, number>;
  valueBytes: number;
  memberBytes: number;
  elements: number;
  bigMb: number;
  /** Which big keys each source holds (default: hash, set, zset and list). */
  bigTypes?: readonly BenchType[];
  seed: number;
}

/** A key checked field by field after each contender. */
export interface SampleKey {
  source: number;
  key: string;
  type: BenchType;
  big: boolean;
}

export interface SourceData {
  keys: number;
  bytes: number;
  elements: number;
  byType: Record<BenchType, number>;
  samples: SampleKey[];
}

export interface Dataset {
  spec: DatasetSpec;
  perSource: SourceData[];
  keys: number;
  bytes: number;
  byType: Record<BenchType, number>;
  generateMs: number;
}

/** Elements per command when a big key is written in pieces. */
const BIG_CHUNK = 1000;
/** Sampled small keys per source. */
const SAMPLES_PER_SOURCE = 60;

export function keyName(source: number, type: BenchType, n: number): string {
  return `s${source}:${type}:${n}`;
}

/** The merge contender pre-loads the keys whose number is even: half of them, spread over every type. */
export function isPreloaded(key: Buffer | string): boolean {
  const text = typeof key === 'string' ? key : key.toString('latin1');
  const n = Number(text.slice(text.lastIndexOf(':') + 1));
  return Number.isInteger(n) && n % 2 === 0;
}

const POOL_SIZE = 1 << 20;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** 1 MiB of random letters and digits; values are slices of it at random offsets. */
function makePool(rand: () => number): string {
  const bytes = Buffer.allocUnsafe(POOL_SIZE);
  for (let i = 0; i < POOL_SIZE; i++) bytes[i] = ALPHABET.charCodeAt(Math.floor(rand() * ALPHABET.length));
  return bytes.toString('latin1');
}

class Generator {
  private readonly rand: () => number;
  private readonly pool: string;
  readonly stats: SourceData;

  constructor(
    private readonly spec: DatasetSpec,
    private readonly source: number,
  ) {
    this.rand = prng(spec.seed * 1000 + source);
    this.pool = makePool(this.rand);
    const byType = Object.fromEntries(BENCH_TYPES.map((t) => [t, 0])) as Record<BenchType, number>;
    this.stats = { keys: 0, bytes: 0, elements: 0, byType, samples: [] };
  }

  /** A size around `mean`: uniform in [mean/2, 3·mean/2], at least 1. */
  private vary(mean: number): number {
    return Math.max(1, Math.round(mean * (0.5 + this.rand())));
  }

  private value(len: number): string {
    const at = Math.floor(this.rand() * (POOL_SIZE - len));
    return this.pool.substr(at, len);
  }

  private pickType(): BenchType {
    let r = this.rand();
    for (const type of BENCH_TYPES) {
      r -= this.spec.mix[type];
      if (r < 0) return type;
    }
    return 'string';
  }

  /** Encodes every key of this source, writing to `out` as the encoder fills; returns the command count. */
  async run(out: Writable): Promise<number> {
    const enc = new RespEncoder();
    const { keys, elements, valueBytes, memberBytes, bigMb } = this.spec;
    const sampleEvery = Math.max(1, Math.floor(keys / SAMPLES_PER_SOURCE));
    for (let n = 0; n < keys; n++) {
      const type = this.pickType();
      const key = keyName(this.source, type, n);
      this.small(enc, key, type, elements, type === 'string' ? valueBytes : memberBytes);
      if (n % sampleEvery === 0) this.stats.samples.push({ source: this.source, key, type, big: false });
      if (enc.full) await writeChunks(out, enc.take());
    }
    if (bigMb > 0) {
      const bigTypes = this.spec.bigTypes ?? ['hash', 'set', 'zset', 'list'];
      for (const [i, type] of bigTypes.entries()) {
        const key = keyName(this.source, type, keys + i);
        await this.big(enc, out, key, type, bigMb * 1e6, memberBytes);
        this.stats.samples.push({ source: this.source, key, type, big: true });
      }
    }
    await writeChunks(out, enc.take());
    return enc.commands;
  }

  private count(type: BenchType, keyBytes: number): void {
    this.stats.keys++;
    this.stats.byType[type]++;
    this.stats.bytes += keyBytes;
  }

  private small(enc: RespEncoder, key: string, type: BenchType, elements: number, valueBytes: number): void {
    this.count(type, key.length);
    if (type === 'string') {
      const value = this.value(this.vary(valueBytes));
      this.stats.bytes += value.length;
      enc.add(['SET', key, value]);
      return;
    }
    const args: RespArg[] = [COMMAND[type], key];
    const count = this.vary(elements);
    for (let j = 0; j < count; j++) this.element(args, type, j, valueBytes);
    enc.add(args);
  }

  /** Adds element `j` of a collection to `args` and counts its bytes. */
  private element(args: RespArg[], type: BenchType, j: number, valueBytes: number): void {
    const value = this.value(this.vary(valueBytes));
    this.stats.elements++;
    switch (type) {
      case 'hash': {
        const field = `f${j}`;
        args.push(field, value);
        this.stats.bytes += field.length + value.length;
        break;
      }
      case 'set': {
        const member = `${j}:${value}`;
        args.push(member);
        this.stats.bytes += member.length;
        break;
      }
      case 'zset': {
        const member = `${j}:${value}`;
        args.push(Math.floor(this.rand() * 1e6), member);
        this.stats.bytes += member.length + 8;
        break;
      }
      default:
        args.push(value);
        this.stats.bytes += value.length;
    }
  }

  private async big(
    enc: RespEncoder,
    out: Writable,
    key: string,
    type: BenchType,
    targetBytes: number,
    valueBytes: number,
  ): Promise<void> {
    this.count(type, key.length);
    const until = this.stats.bytes + targetBytes;
    let j = 0;
    while (this.stats.bytes < until) {
      const args: RespArg[] = [COMMAND[type], key];
      for (let i = 0; i < BIG_CHUNK && this.stats.bytes < until; i++)
        this.element(args, type, j++, valueBytes);
      enc.add(args);
      if (enc.full) await writeChunks(out, enc.take());
    }
  }
}

const COMMAND: Record<BenchType, string> = {
  string: 'SET',
  hash: 'HSET',
  set: 'SADD',
  zset: 'ZADD',
  list: 'RPUSH',
};

/** Writes the dataset to the sources (one redis-cli --pipe each, in parallel) and returns what it holds. */
export async function generateDataset(spec: DatasetSpec, sourcePorts: readonly number[]): Promise<Dataset> {
  const started = Date.now();
  const perSource = await Promise.all(
    sourcePorts.map(async (port, index) => {
      const generator = new Generator(spec, index + 1);
      await pipeInto(port, (stdin) => generator.run(stdin));
      return generator.stats;
    }),
  );
  const byType = Object.fromEntries(BENCH_TYPES.map((t) => [t, 0])) as Record<BenchType, number>;
  for (const s of perSource) for (const t of BENCH_TYPES) byType[t] += s.byType[t];
  return {
    spec,
    perSource,
    keys: perSource.reduce((sum, s) => sum + s.keys, 0),
    bytes: perSource.reduce((sum, s) => sum + s.bytes, 0),
    byType,
    generateMs: Date.now() - started,
  };
}
