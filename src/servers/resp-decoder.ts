/** A RESP2 reply as the decoder gives it: bulk and status strings as Buffers, integers as numbers. */
export type Reply = Buffer | number | null | Reply[] | Error;

/** What a decoder does with what it reads: a reply, an error reply, or bytes that are no RESP. */
export interface ReplySink {
  reply(reply: Reply): void;
  error(error: Error): void;
  fatal(error: Error): void;
}

/** An error reply of the server (`-ERR …`), named as ioredis and redis-parser name it (errors/classify.ts). */
export class ReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplyError';
  }
}

/** Bytes that are no RESP2: the connection cannot be read any further. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParserError';
  }
}

const CR = 0x0d;
const LF = 0x0a;

/** An array whose elements are still being read. */
interface Frame {
  items: Reply[];
  left: number;
}

/**
 * A RESP2 decoder fed chunk by chunk, bulk strings as Buffers, integers as numbers.
 *
 * Written here rather than taken from redis-parser (which ioredis uses): redis-parser copies every bulk
 * string that spans chunks into one module-wide pool of three times its size, and shrinks that pool
 * from a 50 ms interval that keeps the process alive: after one 12 MB DUMP payload the CLI exited two
 * seconds after its run, and the pool held 36 MB meanwhile. This decoder keeps no state between
 * replies but its own: a bulk string within a chunk is a view of that chunk (no copy); one that spans
 * chunks is copied once into a buffer of its exact size as the chunks come; a reply header cut by a
 * chunk's end is kept and joined with the next chunk. Nested arrays are read element by element with
 * a stack of frames, so a reply is never parsed twice, however many chunks it spans.
 */
export class RespDecoder {
  /** Bytes of a header (a type line) cut by the end of the last chunk. */
  private pending?: Buffer;
  /** A bulk string spanning chunks: its buffer, how much of it is filled. */
  private bulk?: { out: Buffer; filled: number };
  /** The CRLF after a bulk string still to skip (0–2 bytes), when it spanned chunks. */
  private skip = 0;
  private readonly frames: Frame[] = [];
  private failed = false;

  constructor(private readonly sink: ReplySink) {}

  execute(chunk: Buffer): void {
    if (this.failed) return;
    let buf = chunk;
    let at = 0;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    const end = buf.length;
    while (at < end) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, end - at);
        this.skip -= n;
        at += n;
        continue;
      }
      if (this.bulk) {
        const { out } = this.bulk;
        const n = Math.min(out.length - this.bulk.filled, end - at);
        buf.copy(out, this.bulk.filled, at, at + n);
        this.bulk.filled += n;
        at += n;
        if (this.bulk.filled < out.length) break;
        this.bulk = undefined;
        this.skip = 2;
        this.complete(out);
        continue;
      }
      const type = buf[at]!;
      if (type === 0x2b || type === 0x2d) {
        // +<status> or -<error>: text up to CRLF.
        const lineEnd = lineEndAt(buf, at + 1, end);
        if (lineEnd < 0) {
          this.pending = buf.subarray(at);
          break;
        }
        const from = at + 1;
        at = lineEnd + 2;
        if (type === 0x2d) this.complete(new ReplyError(buf.toString('utf8', from, lineEnd)));
        else this.complete(sharedReply(buf, from, lineEnd) ?? buf.subarray(from, lineEnd));
        continue;
      }
      if (type !== 0x24 && type !== 0x2a && type !== 0x3a) {
        this.failed = true;
        this.sink.fatal(
          new ProtocolError(
            `Protocol error, got ${JSON.stringify(String.fromCharCode(type))} as reply type byte`,
          ),
        );
        return;
      }
      // $<length>, *<count> or :<integer>: the number read as the line is searched for its end.
      const n = integerLine(buf, at + 1, end);
      if (lineNext < 0) {
        this.pending = buf.subarray(at);
        break;
      }
      at = lineNext;
      switch (type) {
        case 0x24: {
          // A bulk string, or nil.
          const length = n;
          if (length < 0) {
            this.complete(null);
            break;
          }
          if (end - at >= length + 2) {
            this.complete(sharedReply(buf, at, at + length) ?? buf.subarray(at, at + length));
            at += length + 2;
            break;
          }
          // Spans chunks: copied once, into a buffer of its own (a view would keep the chunk alive).
          const out = Buffer.allocUnsafe(length);
          const got = Math.min(length, end - at);
          buf.copy(out, 0, at, at + got);
          at += got;
          if (got === length) {
            this.skip = 2;
            this.complete(out);
          } else this.bulk = { out, filled: got };
          break;
        }
        case 0x2a:
          // An array, or nil.
          if (n < 0) this.complete(null);
          else if (n === 0) this.complete([]);
          else this.frames.push({ items: new Array(n), left: n });
          break;
        default:
          this.complete(n);
      }
    }
  }

  /** A value is read: it fills its array (and that one its own, …) or is a whole reply. */
  private complete(value: Reply): void {
    let reply = value;
    for (;;) {
      const frame = this.frames[this.frames.length - 1];
      if (!frame) break;
      frame.items[frame.items.length - frame.left] = reply;
      if (--frame.left > 0) return;
      this.frames.pop();
      reply = frame.items;
    }
    if (reply instanceof ReplyError) this.sink.error(reply);
    else this.sink.reply(reply);
  }
}

/**
 * The short answers most replies are (OK for each RESTORE or SET of a copy, QUEUED inside a
 * transaction, the type names the probe's scripts return for every key, as statuses or bulk
 * strings): one shared Buffer each, read only, not a view per reply that also keeps its socket chunk
 * alive. One candidate by length and first byte, then compared byte by byte.
 */
const OK = Buffer.from('OK');
const QUEUED = Buffer.from('QUEUED');
const NONE = Buffer.from('none');
const STRING = Buffer.from('string');
const HASH = Buffer.from('hash');
const SET = Buffer.from('set');
const ZSET = Buffer.from('zset');
const LIST = Buffer.from('list');
const STREAM = Buffer.from('stream');

function sharedReply(buf: Buffer, from: number, end: number): Buffer | undefined {
  // One candidate by length and first byte (a switch, not a search: this runs for every short reply).
  let candidate: Buffer | undefined;
  switch (end - from) {
    case 2:
      candidate = OK;
      break;
    case 3:
      candidate = SET;
      break;
    case 4: {
      const first = buf[from];
      candidate =
        first === 0x68
          ? HASH
          : first === 0x6e
            ? NONE
            : first === 0x7a
              ? ZSET
              : first === 0x6c
                ? LIST
                : undefined;
      break;
    }
    case 6: {
      const first = buf[from];
      candidate =
        first === 0x51
          ? QUEUED
          : first !== 0x73
            ? undefined
            : buf[from + 2] === 0x72 && buf[from + 3] === 0x69
              ? STRING
              : STREAM;
      break;
    }
    default:
      return undefined;
  }
  if (candidate === undefined) return undefined;
  for (let i = 0; i < candidate.length; i++) if (buf[from + i] !== candidate[i]) return undefined;
  return candidate;
}

/**
 * Where the line from `from` ends (its CR), or -1 where its end has not come yet. Only CRLF ends a
 * line: Pika echoes a key with a bare LF or CR inside an error reply. A plain loop: a header is a few
 * bytes, and a call into native code for each one (Buffer.indexOf) cost more than it saved.
 */
function lineEndAt(buf: Buffer, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) if (buf[i] === CR && buf[i + 1] === LF) return i;
  return -1;
}

/** Where integerLine's line ended (after its CRLF), or -1 where its end has not come yet. */
let lineNext = -1;

/**
 * The signed decimal integer of a header line from `from`, read while its end is searched for: one
 * pass over its bytes. Sets lineNext.
 */
function integerLine(buf: Buffer, from: number, end: number): number {
  let i = from;
  let negative = false;
  if (i < end && buf[i] === 0x2d) {
    negative = true;
    i++;
  }
  let n = 0;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c === CR) break;
    n = n * 10 + (c - 0x30);
  }
  lineNext = i + 1 < end ? i + 2 : -1;
  return negative ? -n : n;
}
