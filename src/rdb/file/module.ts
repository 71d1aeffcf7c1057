// biome-ignore-all lint/suspicious/noAssignInExpressions: `while ((n = w.len()) === NEED) refill` is this reader's one idiom: try a token, refill until it is there
import { RdbCorruptError } from './errors.js';
import { NEED, type Window } from './window.js';

/** The characters of a module type's 9-character name (Redis's ModuleTypeNameCharSet). */
const NAME_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A module type's name from its 64-bit id: 9 characters of 6 bits, then a 10-bit encoding version. */
export function moduleName(id: bigint): string {
  let rest = id >> 10n;
  let name = '';
  for (let i = 0; i < 9; i++) {
    name = NAME_CHARS[Number(rest & 63n)] + name;
    rest >>= 6n;
  }
  return name;
}

/** A module value's opcodes (Redis's RDB_MODULE_OPCODE_*). */
const EOF = 0;
const SINT = 1;
const UINT = 2;
const FLOAT = 3;
const DOUBLE = 4;
const STRING = 5;

/**
 * MODULE_2 value: the module id, then the body. `id` receives it (for the failed key's message).
 */
export function* skipModuleValue(w: Window, id?: (id: bigint) => void): Generator<void, void, void> {
  let moduleId: bigint | null;
  while ((moduleId = w.bigLen()) === null) yield;
  id?.(moduleId);
  yield* skipModuleBody(w);
}

/**
 * What a module saved, annotated so that a reader without the module can pass it (Redis's
 * rdbLoadCheckModuleValue): opcode, item, …, up to the EOF opcode.
 */
export function* skipModuleBody(w: Window): Generator<void, void, void> {
  for (;;) {
    const at = w.offset;
    let op: number;
    while ((op = w.len()) === NEED) yield;
    switch (op) {
      case EOF:
        return;
      case SINT:
      case UINT:
        while (w.len() === NEED) yield;
        break;
      case FLOAT:
        while (!w.skip(4)) yield;
        break;
      case DOUBLE:
        while (!w.skip(8)) yield;
        break;
      case STRING:
        while (!w.skipString()) yield;
        break;
      default:
        throw new RdbCorruptError(w.file, at, `unknown module value opcode ${op}`);
    }
  }
}
