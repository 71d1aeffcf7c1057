import type { DataType } from '../types/strategy.js';
import type { StreamValue } from '../write/native/stream.js';
import type { Lifetime, Observed, Outcome } from './expect.js';

/**
 * Values as one short line of text for a difference (SPEC §6.5: key, expected, found): at most a few
 * elements, each at most a few dozen bytes; bytes that are printable UTF-8 shown as a JSON string,
 * anything else as base64 (`b64:…`).
 */

const MAX_ITEMS = 6;
const MAX_BYTES = 40;

export function showBytes(b: Buffer): string {
  const cut = b.length > MAX_BYTES ? b.subarray(0, MAX_BYTES) : b;
  const more = b.length > MAX_BYTES ? `…(${b.length} bytes)` : '';
  const text = cut.toString('utf8');
  // Printable and round-trips: shown as text; otherwise base64 (binary, or cut inside a character).
  const printable = Buffer.from(text, 'utf8').equals(cut) && !/[\u0000-\u001f\u007f]/.test(text);
  return printable ? `${JSON.stringify(text)}${more}` : `b64:${cut.toString('base64')}${more}`;
}

function items(list: string[]): string {
  const shown = list.slice(0, MAX_ITEMS).join(', ');
  return list.length > MAX_ITEMS ? `${shown}, …(${list.length} in all)` : shown;
}

/** Pairs of a flat array, sorted by the bytes of the field (`keyAt` 0) or member (1), then shown. */
function flatPairs(flat: Buffer[], keyAt: 0 | 1, f: (a: Buffer, b: Buffer) => string): string[] {
  const pairs: [Buffer, Buffer][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs.sort((x, y) => Buffer.compare(x[keyAt], y[keyAt])).map(([a, b]) => f(a, b));
}

/** Hash fields, set and zset members in byte order, so that two displays of one value read the same. */
const sorted = (members: Buffer[]): Buffer[] => [...members].sort(Buffer.compare);

export function showValue(type: DataType, value: unknown): string {
  switch (type) {
    case 'string':
      return showBytes(value as Buffer);
    case 'hash':
      return `hash {${items(flatPairs(value as Buffer[], 0, (f, v) => `${showBytes(f)}: ${showBytes(v)}`))}}`;
    case 'set':
      return `set {${items(sorted(value as Buffer[]).map(showBytes))}}`;
    case 'zset':
      return `zset {${items(flatPairs(value as Buffer[], 1, (s, m) => `${showBytes(m)}: ${s.toString()}`))}}`;
    case 'list':
      return `list [${items((value as Buffer[]).map(showBytes))}]`;
    case 'stream':
      return `stream [${items((value as StreamValue).entries.map(([entryId]) => entryId.toString()))}]`;
    case 'other':
      return 'a module type';
  }
}

export function showTtl(ttl: Lifetime): string {
  if (ttl === 'unknown') return '';
  return ttl === null ? ', no TTL' : `, TTL ${Math.max(0, Math.round(ttl))} ms`;
}

export function showFound(found: Observed | null): string {
  return found === null ? 'no key' : `${showValue(found.type, found.value)}${showTtl(found.ttl)}`;
}

export function showExpected(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'absent':
      return 'no key';
    case 'exact':
      return `${showValue(outcome.type, outcome.value)}${showTtl(outcome.ttl)}`;
    case 'contains':
      if (outcome.merged.length === 0) return `any ${outcome.type}${showTtl(outcome.ttl)}`;
      return (
        `a ${outcome.type} that contains ` +
        outcome.merged.map((v) => showValue(outcome.type, v)).join(' then ') +
        showTtl(outcome.ttl)
      );
  }
}
