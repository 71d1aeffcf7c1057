import { ARGS_PER_COMMAND, chunked, type NativeCodec } from './codec.js';

/** A hash as HGETALL returns it: field, value, field, value, … */
export const hashCodec: NativeCodec<Buffer[]> = {
  type: 'hash',
  read: (key) => [['HGETALL', key]],
  decode: ([flat]) => (Array.isArray(flat) && flat.length > 0 ? (flat as Buffer[]) : null),
  write: (key, flat) => chunked('HSET', key, flat, ARGS_PER_COMMAND * 2),
  merge(key, flat, opts) {
    if (opts.hashField === 'source') return chunked('HSET', key, flat, ARGS_PER_COMMAND * 2);
    // The target's field wins: HSETNX adds only the fields the target does not have.
    const out: ReturnType<NativeCodec<Buffer[]>['write']> = [];
    for (let i = 0; i < flat.length; i += 2) out.push(['HSETNX', key, flat[i]!, flat[i + 1]!]);
    return out;
  },
  size: (flat) => flat.length / 2,
};
