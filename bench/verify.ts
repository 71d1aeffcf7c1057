import type { Cluster, Redis } from 'ioredis';
import { isPreloaded, type SampleKey } from './dataset.js';
import type { BenchType } from './options.js';

/*
 * After every contender the bench checks that the target holds what it should: its DBSIZE, and a
 * sample of keys compared with their source (the whole value of a small key, the element count of a
 * big one). A contender that copies nothing, or copies wrongly, fails the run loudly.
 */

export class VerifyError extends Error {}

/** The keys the target holds (summed over the masters of a cluster) must be `expected`. */
export async function expectDbsize(nodes: readonly Redis[], expected: number, what: string): Promise<void> {
  const size = (await Promise.all(nodes.map((node) => node.dbsize()))).reduce((a, b) => a + b, 0);
  if (size !== expected) {
    throw new VerifyError(`${what}: the target holds ${size} keys, expected ${expected}`);
  }
}

const SIZE: Record<BenchType, string> = {
  string: 'STRLEN',
  hash: 'HLEN',
  set: 'SCARD',
  zset: 'ZCARD',
  list: 'LLEN',
};

/** A value as a list of latin1 strings, in an order that does not depend on the encoding. */
async function contents(redis: Redis | Cluster, key: string, type: BenchType): Promise<string[]> {
  const text = (reply: unknown): string[] => (reply as Buffer[]).map((b) => b.toString('latin1'));
  switch (type) {
    case 'string': {
      const value = await redis.getBuffer(key);
      return value === null ? [] : [value.toString('latin1')];
    }
    case 'hash': {
      const flat = text(await redis.callBuffer('HGETALL', key));
      const pairs: string[] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push(`${flat[i]}\u0000${flat[i + 1]}`);
      return pairs.sort();
    }
    case 'set':
      return text(await redis.callBuffer('SMEMBERS', key)).sort();
    case 'zset':
      return text(await redis.callBuffer('ZRANGE', key, '0', '-1', 'WITHSCORES'));
    case 'list':
      return text(await redis.callBuffer('LRANGE', key, '0', '-1'));
  }
}

/**
 * Compares the sampled keys on the target with their sources. `merge`: the contender merged into a
 * target pre-loaded with a copy of the even-numbered keys, so such a list holds its elements twice
 * (append) and every other value is unchanged (a union with itself, an override with the same value).
 */
export async function checkSamples(
  sources: readonly Redis[],
  target: Redis | Cluster,
  samples: readonly SampleKey[],
  mode: 'copy' | 'merge',
  what: string,
): Promise<void> {
  for (const sample of samples) {
    const source = sources[sample.source - 1]!;
    const doubled = mode === 'merge' && sample.type === 'list' && isPreloaded(sample.key);
    const type = String(await target.type(sample.key));
    if (type !== sample.type) {
      throw new VerifyError(`${what}: ${sample.key} is a ${type} on the target, expected a ${sample.type}`);
    }
    if (sample.big) {
      const [want, got] = await Promise.all([
        source.call(SIZE[sample.type], sample.key),
        target.call(SIZE[sample.type], sample.key),
      ]);
      const expected = Number(want) * (doubled ? 2 : 1);
      if (Number(got) !== expected) {
        throw new VerifyError(
          `${what}: ${sample.key} has ${got} elements on the target, expected ${expected}`,
        );
      }
      continue;
    }
    const [want, got] = await Promise.all([
      contents(source, sample.key, sample.type),
      contents(target, sample.key, sample.type),
    ]);
    const expected = doubled ? [...want, ...want] : want;
    if (expected.length === 0 || got.join('\u0001') !== expected.join('\u0001')) {
      const how =
        got.length === expected.length
          ? 'same size, other contents'
          : `${got.length} element(s), expected ${expected.length}`;
      throw new VerifyError(`${what}: ${sample.key} (${sample.type}) differs on the target: ${how}`);
    }
  }
}
