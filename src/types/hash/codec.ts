import { ARGS_PER_COMMAND, chunked, type Dialect, type NativeCodec, REDIS_DIALECT } from '../codec.js';

/** HSET takes many pairs on Redis 4+; Pika's takes one, and its HMSET many. */
const setFields = (key: Buffer, flat: Buffer[], dialect: Dialect = REDIS_DIALECT) =>
  chunked(dialect.multiPairHset ? 'HSET' : 'HMSET', key, flat, ARGS_PER_COMMAND * 2);

/** A hash as HGETALL returns it: field, value, field, value, … */
export const hashCodec: NativeCodec<Buffer[]> = {
  type: 'hash',
  count: (key) => ['HLEN', key],
  read: (key) => [['HGETALL', key]],
  decode: ([flat]) => (Array.isArray(flat) && flat.length > 0 ? (flat as Buffer[]) : null),
  write: setFields,
  merge(key, flat, opts, _current, dialect) {
    if (opts.hashField === 'source') return setFields(key, flat, dialect);
    // The target's field wins: HSETNX adds only the fields the target does not have.
    const out: ReturnType<NativeCodec<Buffer[]>['write']> = [];
    for (let i = 0; i < flat.length; i += 2) out.push(['HSETNX', key, flat[i]!, flat[i + 1]!]);
    return out;
  },
  clear(key, current) {
    const fields = (current ?? []).filter((_, i) => i % 2 === 0);
    return chunked('HDEL', key, fields, ARGS_PER_COMMAND);
  },
  size: (flat) => flat.length / 2,
  // Field union; a field on both sides takes the value `hashField` names. Fields keep their first position.
  mergeValues(current, incoming, opts) {
    const values = new Map<string, [Buffer, Buffer]>();
    for (let i = 0; i < current.length; i += 2)
      values.set(current[i]!.toString('latin1'), [current[i]!, current[i + 1]!]);
    for (let i = 0; i < incoming.length; i += 2) {
      const id = incoming[i]!.toString('latin1');
      const held = values.get(id);
      if (held === undefined) values.set(id, [incoming[i]!, incoming[i + 1]!]);
      else if (opts.hashField === 'source') held[1] = incoming[i + 1]!;
    }
    return [...values.values()].flat();
  },
};
