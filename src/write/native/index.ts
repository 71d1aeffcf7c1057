import type { NativeType } from '../../types/strategy.js';
import type { NativeCodec } from './codec.js';
import { hashCodec } from './hash.js';
import { listCodec } from './list.js';
import { setCodec } from './set.js';
import { streamCodec } from './stream.js';
import { stringCodec } from './string.js';
import { zsetCodec } from './zset.js';

export const CODECS: Record<NativeType, NativeCodec<unknown>> = {
  string: stringCodec as NativeCodec<unknown>,
  hash: hashCodec as NativeCodec<unknown>,
  set: setCodec as NativeCodec<unknown>,
  zset: zsetCodec as NativeCodec<unknown>,
  list: listCodec as NativeCodec<unknown>,
  stream: streamCodec as NativeCodec<unknown>,
};
