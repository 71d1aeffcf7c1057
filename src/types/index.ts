import type { NativeCodec } from './codec.js';
import { hashCodec } from './hash/codec.js';
import { listCodec } from './list/codec.js';
import { setCodec } from './set/codec.js';
import type { NativeType } from './strategy.js';
import { streamCodec } from './stream/codec.js';
import { stringCodec } from './string/codec.js';
import { zsetCodec } from './zset/codec.js';

export const CODECS: Record<NativeType, NativeCodec<unknown>> = {
  string: stringCodec as NativeCodec<unknown>,
  hash: hashCodec as NativeCodec<unknown>,
  set: setCodec as NativeCodec<unknown>,
  zset: zsetCodec as NativeCodec<unknown>,
  list: listCodec as NativeCodec<unknown>,
  stream: streamCodec as NativeCodec<unknown>,
};
