/** The dispatch table of window reads and writes: each type's entry lives in types/<type>/window.ts. */
import { hashWindow } from './hash/window.js';
import { listWindow } from './list/window.js';
import { setWindow } from './set/window.js';
import type { NativeType } from './strategy.js';
import { streamWindow } from './stream/window.js';
import { stringWindow } from './string/window.js';
import type { WindowOps } from './window-ops.js';
import { zsetWindow } from './zset/window.js';

export const WINDOWS: Record<NativeType, WindowOps> = {
  string: stringWindow,
  hash: hashWindow,
  set: setWindow,
  zset: zsetWindow,
  list: listWindow,
  stream: streamWindow,
};
