import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Arg, Command } from '../../src/servers/resp.js';
import { encode } from '../../src/servers/resp.js';

/** RESP as the protocol defines it, written the plain way. */
function plain(commands: Command[]): Buffer {
  const parts: Buffer[] = [];
  for (const cmd of commands) {
    parts.push(Buffer.from(`*${cmd.length}\r\n`));
    for (const arg of cmd) {
      const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
      parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
    }
  }
  return Buffer.concat(parts);
}

const arg: fc.Arbitrary<Arg> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.string(),
  fc.nat(),
  fc.constantFrom(0, 9, 10, 99, 100, 2 ** 53 - 1, -1, -250, 1.5, -0.25, Number.POSITIVE_INFINITY),
  fc.double({ noNaN: true }),
);

describe('RESP encoding of a pipeline', () => {
  it('encodes names, numbers, text and raw bytes exactly', () => {
    const bin = Buffer.from([0xff, 0x00, 0x0d, 0x0a]);
    const out = encode([
      ['TYPE', bin],
      ['RESTORE', Buffer.from('k'), 1234567, Buffer.alloc(0), 'REPLACE'],
      ['SET', 'ключ', 'x'.repeat(100)],
    ]);
    const expected = Buffer.concat([
      Buffer.from('*2\r\n$4\r\nTYPE\r\n$4\r\n'),
      bin,
      Buffer.from('\r\n*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$7\r\n1234567\r\n$0\r\n\r\n$7\r\nREPLACE\r\n'),
      Buffer.from(`*3\r\n$3\r\nSET\r\n$8\r\nключ\r\n$100\r\n${'x'.repeat(100)}\r\n`),
    ]);
    expect(out.equals(expected)).toBe(true);
  });

  it('handles arguments of 0, 9, 10, 15, 16, 63, 64 and 100000 bytes, whole Buffers and views into others', () => {
    for (const size of [0, 9, 10, 15, 16, 63, 64, 100_000]) {
      // Distinct bytes, so that a copy from the wrong offset shows; a view as the reply decoder gives.
      const arg = Buffer.from(Array.from({ length: size + 6 }, (_, i) => i % 251)).subarray(3, 3 + size);
      const out = encode([['SET', 'k', arg]]);
      expect(
        out.equals(
          Buffer.concat([
            Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${size}\r\n`),
            arg,
            Buffer.from('\r\n'),
          ]),
        ),
      ).toBe(true);
    }
  });

  it('writes every command as the protocol says: binary, strings, integers and other numbers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.array(arg, { maxLength: 6 })), { maxLength: 8 }),
        (raw) => {
          const commands = raw.map(([name, args]) => [name, ...args] as Command);
          expect(encode(commands).equals(plain(commands))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
