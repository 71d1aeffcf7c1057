/**
 * The RESP2 decoder of the hot path (src/servers/resp-decoder.ts): every reply shape, cut into chunks
 * at every place, gives the same replies in the same order as read whole; error replies go to
 * `error` at the top and stay values inside arrays; bytes that are no RESP are fatal.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Reply, replyDecoder } from '../../src/servers/resp.js';
import { ReplyError } from '../../src/servers/resp-decoder.js';

/** What a test reads: replies as plain values (Buffers as hex), error replies as { error }. */
type Seen = unknown;

function plain(reply: Reply): Seen {
  if (reply === null || typeof reply === 'number') return reply;
  if (Buffer.isBuffer(reply)) return { hex: reply.toString('hex') };
  if (reply instanceof Error) return { error: reply.message, name: reply.name };
  return reply.map(plain);
}

function decodeChunks(chunks: Buffer[]): { replies: Seen[]; fatal: string[] } {
  const replies: Seen[] = [];
  const fatal: string[] = [];
  const decoder = replyDecoder({
    reply: (r) => replies.push(plain(r)),
    error: (e) => replies.push({ top: plain(e) }),
    fatal: (e) => fatal.push(e.message),
  });
  for (const chunk of chunks) decoder.execute(chunk);
  return { replies, fatal };
}

/** A reply as the server writes it, and as the decoder should give it. */
type Case = { wire: string | Buffer; seen: Seen };

type Value =
  | { kind: 'bulk'; bytes: Uint8Array }
  | { kind: 'nil' }
  | { kind: 'int'; n: number }
  | { kind: 'status'; text: string }
  | { kind: 'error'; text: string }
  | { kind: 'array'; items: Value[] }
  | { kind: 'nilArray' };

function wire(v: Value): Buffer {
  switch (v.kind) {
    case 'bulk':
      return Buffer.concat([
        Buffer.from(`$${v.bytes.length}\r\n`),
        Buffer.from(v.bytes),
        Buffer.from('\r\n'),
      ]);
    case 'nil':
      return Buffer.from('$-1\r\n');
    case 'int':
      return Buffer.from(`:${v.n}\r\n`);
    case 'status':
      return Buffer.from(`+${v.text}\r\n`);
    case 'error':
      return Buffer.from(`-${v.text}\r\n`);
    case 'nilArray':
      return Buffer.from('*-1\r\n');
    case 'array':
      return Buffer.concat([Buffer.from(`*${v.items.length}\r\n`), ...v.items.map(wire)]);
  }
}

function expected(v: Value, top = false): Seen {
  switch (v.kind) {
    case 'bulk':
      return { hex: Buffer.from(v.bytes).toString('hex') };
    case 'nil':
    case 'nilArray':
      return null;
    case 'int':
      return v.n;
    case 'status':
      return { hex: Buffer.from(v.text).toString('hex') };
    case 'error': {
      const e = { error: v.text, name: 'ReplyError' };
      return top ? { top: e } : e;
    }
    case 'array':
      return v.items.map((i) => expected(i));
  }
}

// Only CRLF ends a line: Pika echoes a key with a bare LF or CR inside an error reply.
const line = fc
  .string({ maxLength: 20, unit: fc.constantFrom('a', ' ', ':', '\n', '\r', 'ÿ') })
  .map((s) => s.replace(/\r\n/g, ' ').replace(/\r$/, ' '));
const value: fc.Arbitrary<Value> = fc.letrec<{ v: Value }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.uint8Array({ maxLength: 40 }).map((bytes): Value => ({ kind: 'bulk', bytes })),
    // Bytes that look like RESP inside a bulk string are data.
    fc.constant<Value>({ kind: 'bulk', bytes: Buffer.from('\r\n*2\r\n$-1\r\n') }),
    fc.constant<Value>({ kind: 'nil' }),
    fc.constant<Value>({ kind: 'nilArray' }),
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((n): Value => ({ kind: 'int', n })),
    line.map((text): Value => ({ kind: 'status', text })),
    line.map((text): Value => ({ kind: 'error', text: `ERR ${text}` })),
    fc.array(tie('v'), { maxLength: 5 }).map((items): Value => ({ kind: 'array', items })),
  ),
})).v;

/** Splits `bytes` at the given cut points (sorted, deduplicated, within the buffer). */
function cut(bytes: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

describe('the RESP2 decoder', () => {
  it('gives each reply whole and in order however the bytes are cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (replies, at) => {
          const bytes = Buffer.concat(replies.map(wire));
          const { replies: seen, fatal } = decodeChunks(cut(bytes, at));
          expect(fatal).toEqual([]);
          expect(seen).toEqual(replies.map((r) => expected(r, true)));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('reads a reply cut after every byte', () => {
    const cases: Case[] = [
      {
        wire: '*3\r\n$3\r\nfoo\r\n:-12\r\n*2\r\n$-1\r\n-WRONGTYPE no\r\n',
        seen: [{ hex: '666f6f' }, -12, [null, { error: 'WRONGTYPE no', name: 'ReplyError' }]],
      },
      { wire: '+OK\r\n', seen: { hex: '4f4b' } },
      {
        wire: '-ERR Invalid argument: WRONGTYPE, key: {t}\nx, expected type: streams\r\n',
        seen: {
          top: {
            error: 'ERR Invalid argument: WRONGTYPE, key: {t}\nx, expected type: streams',
            name: 'ReplyError',
          },
        },
      },
      { wire: '$0\r\n\r\n', seen: { hex: '' } },
      { wire: '*0\r\n', seen: [] },
    ];
    for (const { wire: w, seen } of cases) {
      const bytes = Buffer.from(w);
      const { replies } = decodeChunks([...bytes].map((b) => Buffer.from([b])));
      expect(replies).toEqual([seen]);
    }
  });

  it('gives the short answers it shares (OK, QUEUED, type names) and their near misses byte for byte', () => {
    const words = ['OK', 'QUEUED', 'none', 'string', 'hash', 'set', 'zset', 'list', 'stream'];
    const nearMisses = [
      'Ok',
      'OKK',
      'QUEUEd',
      'nonf',
      'hasx',
      'sat',
      'zsot',
      'lost',
      'streem',
      'st',
      'h',
      'hashes',
    ];
    for (const text of [...words, ...nearMisses]) {
      const bytes = Buffer.from(
        `+${text}\r\n$${text.length}\r\n${text}\r\n*2\r\n$${text.length}\r\n${text}\r\n+${text}\r\n`,
      );
      const { replies, fatal } = decodeChunks([bytes]);
      const hex = { hex: Buffer.from(text).toString('hex') };
      expect(fatal).toEqual([]);
      expect(replies).toEqual([hex, hex, [hex, hex]]);
    }
  });

  it('copies a bulk string that spans chunks once, into a buffer of its own size', () => {
    const payload = Buffer.alloc(3 * 65_536 + 5, 0xab);
    const bytes = Buffer.concat([
      Buffer.from(`*2\r\n$${payload.length}\r\n`),
      payload,
      Buffer.from('\r\n:7\r\n'),
    ]);
    const got: Reply[] = [];
    const decoder = replyDecoder({ reply: (r) => got.push(r), error: () => {}, fatal: () => {} });
    for (let i = 0; i < bytes.length; i += 65_536) decoder.execute(bytes.subarray(i, i + 65_536));
    const [bulk, n] = got[0] as [Buffer, number];
    expect(n).toBe(7);
    expect(bulk.equals(payload)).toBe(true);
    expect(bulk.buffer.byteLength).toBeLessThan(payload.length + 8_192);
  });

  it('gives a top-level error reply to `error`, as a ReplyError', () => {
    const errors: Error[] = [];
    replyDecoder({ reply: () => {}, error: (e) => errors.push(e), fatal: () => {} }).execute(
      Buffer.from('-NOPERM this user has no permissions\r\n'),
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ReplyError);
    expect(errors[0]!.name).toBe('ReplyError');
    expect(errors[0]!.message).toBe('NOPERM this user has no permissions');
  });

  it('says bytes that are no RESP once, and reads nothing after them', () => {
    const { replies, fatal } = decodeChunks([Buffer.from(':1\r\nHTTP/1.1 400\r\n'), Buffer.from(':2\r\n')]);
    expect(replies).toEqual([1]);
    expect(fatal).toEqual(['Protocol error, got "H" as reply type byte']);
  });
});
