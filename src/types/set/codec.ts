import { ARGS_PER_COMMAND, chunked, type NativeCodec } from '../codec.js';

export const setCodec: NativeCodec<Buffer[]> = {
  type: 'set',
  count: (key) => ['SCARD', key],
  read: (key) => [['SMEMBERS', key]],
  decode: ([members]) => (Array.isArray(members) && members.length > 0 ? (members as Buffer[]) : null),
  write: (key, members) => chunked('SADD', key, members, ARGS_PER_COMMAND),
  // Union: SADD ignores members the set already has.
  merge: (key, members) => chunked('SADD', key, members, ARGS_PER_COMMAND),
  clear: (key, current) => chunked('SREM', key, current ?? [], ARGS_PER_COMMAND),
  size: (members) => members.length,
  mergeValues(current, incoming) {
    const members = new Map<string, Buffer>();
    for (const m of [...current, ...incoming])
      if (!members.has(m.toString('latin1'))) members.set(m.toString('latin1'), m);
    return [...members.values()];
  },
};
