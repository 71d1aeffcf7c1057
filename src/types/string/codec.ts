import type { NativeCodec } from '../codec.js';

export const stringCodec: NativeCodec<Buffer> = {
  type: 'string',
  count: (key) => ['STRLEN', key],
  read: (key) => [['GET', key]],
  decode: ([value]) => (Buffer.isBuffer(value) ? value : null),
  write: (key, value) => [['SET', key, value]],
  // Strings cannot merge; the configuration refuses it (SPEC §1.4), so this is never reached.
  merge: () => {
    throw new Error('strings cannot be merged');
  },
  // SET replaces the string alone, whatever else the name holds.
  clear: () => [],
  size: () => 1,
  mergeValues: () => {
    throw new Error('strings cannot be merged');
  },
};
