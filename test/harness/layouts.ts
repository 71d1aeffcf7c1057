/**
 * Layouts several test files seed (./data.ts seedAll): the same shapes, so that a run over them is
 * comparable from one file to the next.
 */
import { hash, type Keys, type Layout, list, str, type Value, zset } from './data.js';

/**
 * A target and two sources over `keys` lists and zsets (the target holds every other one), strings
 * only the sources hold, and a hash `big` of `bigFields` fields on each (a zset `bigz` of
 * `bigMembers` members too, when given). Merged with list append and zset sum, a step applied twice
 * shows.
 */
export function overlapping(keys: number, bigFields: number, bigMembers = 0): Layout {
  const side = (which: number): Keys => {
    const out: Record<string, Value> = {};
    for (let i = 0; i < keys; i++) {
      if (which === 0 && i % 2 === 1) continue;
      out[`l:${i}`] = list(`e${which}-a`, `e${which}-b`);
      out[`z:${i}`] = zset(['shared', 1.5 + which], [`only${which}`, which]);
      if (which > 0) out[`s${which}:${i}`] = str(`v${i}`);
    }
    out.big = hash(Array.from({ length: bigFields }, (_, f): [string, string] => [`f${f}`, `v${which}`]));
    if (bigMembers > 0) {
      out.bigz = zset(
        ...Array.from({ length: bigMembers }, (_, m): [string, number] => [`m${m}`, which + 1]),
      );
    }
    return out;
  };
  return { target: side(0), sources: [side(1), side(2)] };
}
