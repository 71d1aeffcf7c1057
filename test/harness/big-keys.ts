import { type Bytes, expiring, hash, list, set, str, stream, type Value, zset } from './data.js';

const b = (x: string | number) => Buffer.from(String(x));

export function bigKeysOfEveryType(
  n: number,
  opts: { zsetScore?: (j: number) => number } = {},
): Record<string, Value> {
  const score = opts.zsetScore ?? ((j: number) => j);
  return {
    'big:hash': expiring(
      600_000,
      hash(
        Array.from({ length: n }, (_, j): [Buffer, Buffer] => [b(`f${j}`), Buffer.from([0xff, j % 256, 0])]),
      ),
    ),
    'big:set': set(...Array.from({ length: n }, (_, j) => b(`m${j}`))),
    'big:zset': zset(...Array.from({ length: n }, (_, j): [Buffer, number] => [b(`z${j}`), score(j)])),
    'big:list': list(...Array.from({ length: n }, (_, j) => b(`i${j}`))),
    'big:stream': stream(
      ...Array.from({ length: 1200 }, (_, j): [string, Bytes[]] => [`${j + 1}-0`, ['n', String(j)]]),
    ),
    'big:string': str(Buffer.alloc(3 * 1024 * 1024 + 17, 0xab)),
  };
}
