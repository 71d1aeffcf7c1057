import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** One command argument: strings are written as latin1 (the generator only makes ASCII ones). */
export type RespArg = string | Buffer | number;

const CRLF = 0x0d0a;
const EMPTY = Buffer.alloc(0);

/**
 * Encodes commands as RESP arrays of bulk strings into large Buffers, for `redis-cli --pipe` or a
 * file. Synchronous: the producer calls add() per command and drains take() into a stream now and
 * then, so that the chunks in memory stay around `chunkSize`.
 */
export class RespEncoder {
  private buf: Buffer;
  private pos = 0;
  private ready: Buffer[] = [];
  private readyBytes = 0;
  /** Bytes encoded so far. */
  total = 0;
  commands = 0;

  constructor(private readonly chunkSize = 1 << 20) {
    this.buf = Buffer.allocUnsafe(chunkSize);
  }

  /** Whether enough is encoded that the producer should take() and write it out. */
  get full(): boolean {
    return this.readyBytes >= this.chunkSize;
  }

  add(args: readonly RespArg[]): void {
    let size = 3 + String(args.length).length;
    for (const arg of args) {
      const len =
        typeof arg === 'string' ? arg.length : typeof arg === 'number' ? String(arg).length : arg.length;
      size += 5 + String(len).length + len;
    }
    if (this.pos + size > this.buf.length) {
      this.seal();
      this.buf = Buffer.allocUnsafe(Math.max(this.chunkSize, size));
    }
    const buf = this.buf;
    let pos = this.pos;
    pos += buf.write(`*${args.length}\r\n`, pos, 'latin1');
    for (const arg of args) {
      if (Buffer.isBuffer(arg)) {
        pos += buf.write(`$${arg.length}\r\n`, pos, 'latin1');
        pos += arg.copy(buf, pos);
      } else {
        const text = typeof arg === 'number' ? String(arg) : arg;
        pos += buf.write(`$${text.length}\r\n`, pos, 'latin1');
        pos += buf.write(text, pos, 'latin1');
      }
      buf.writeUInt16BE(CRLF, pos);
      pos += 2;
    }
    this.total += pos - this.pos;
    this.readyBytes += pos - this.pos;
    this.pos = pos;
    this.commands++;
  }

  /** Everything encoded since the last take(), in order. */
  take(): Buffer[] {
    this.seal();
    const out = this.ready;
    this.ready = [];
    this.readyBytes = 0;
    return out;
  }

  private seal(): void {
    if (this.pos === 0) return;
    // The sealed part keeps its buffer alive; the next add() allocates a fresh one.
    this.ready.push(this.buf.subarray(0, this.pos));
    this.buf = EMPTY;
    this.pos = 0;
  }
}

/** Writes the chunks to the stream, waiting for 'drain' when it is full (back-pressure). */
export async function writeChunks(stream: Writable, chunks: readonly Buffer[]): Promise<void> {
  for (const chunk of chunks) {
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
}
