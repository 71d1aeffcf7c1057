import type { JournalRecord } from './types.js';

/**
 * The binary form of the records a run writes for every small key it changes: `before` with an
 * `absent` or `dump` prior, and `applied`. As JSON (base64 byte strings, an object per record) they
 * cost the copy with --backup about a sixth of its time in JSON.stringify, base64 and garbage; written
 * straight into the frame they cost a few copies. Every other record stays JSON (format.ts).
 *
 * A body starts with its tag (below 0x20, where JSON starts with `{`), then, little-endian:
 * - BEFORE_ABSENT: u32 source, u32 key length, key, u8 type length, type (ASCII)
 * - BEFORE_DUMP:   the same, then f64 expireAt (NaN: none), u32 payload length, payload
 * - APPLIED:       u32 source, u32 steps, then per step u32 key length, key, u8 type length, type
 * - ABSENT_RUN:    the same fields as APPLIED, for consecutive BEFORE_ABSENT records of one source
 *   (format 3): a copy's batch makes one frame, one checksum and one buffer instead of one per key,
 *   which cost the journaled copy about a tenth of its time (issue 20).
 */
const BEFORE_ABSENT = 0x01;
const BEFORE_DUMP = 0x02;
const APPLIED = 0x03;
const ABSENT_RUN = 0x04;

/** A `before` record whose prior is a plain absent key: many of them share one frame (ABSENT_RUN). */
export const isAbsentBefore = (record: JournalRecord): record is Extract<JournalRecord, { kind: 'before' }> =>
  record.kind === 'before' && record.prior.kind === 'absent' && record.prior.expireAt === undefined;

/** A step as an APPLIED or ABSENT_RUN body names it: its key and type (a StepKey is one, door.ts). */
export interface NamedStep {
  readonly name: Buffer;
  readonly type: string;
}

/** The body size of one step in an APPLIED or ABSENT_RUN body. */
export const stepSize = (key: Buffer, type: string): number => 4 + key.length + 1 + type.length;

/** The size of an APPLIED or ABSENT_RUN body of these steps' sizes summed. */
export const stepListSize = (steps: number): number => 1 + 4 + 4 + steps;

/**
 * Writes an APPLIED body, or an ABSENT_RUN body (`run`), of steps[from..to) of one source at `at` of
 * `out`, straight from the steps: the writer's hot path makes no record, pair or array per key.
 */
export function writeStepList(
  run: boolean,
  source: number,
  steps: readonly NamedStep[],
  from: number,
  to: number,
  out: Buffer,
  at: number,
): void {
  const put = new Writer(out, at);
  put.u8(run ? ABSENT_RUN : APPLIED);
  put.u32(source);
  put.u32(to - from);
  for (let i = from; i < to; i++) {
    put.bytes(steps[i]!.name);
    put.name(steps[i]!.type);
  }
}

export const isCompact = (body: Buffer): boolean => body.length > 0 && body[0]! < 0x20;

/** The binary body's size, or undefined where the record is written as JSON. */
export function compactSize(record: JournalRecord): number | undefined {
  if (record.kind === 'before') {
    const head = 1 + 4 + 4 + record.key.length + 1 + record.type.length;
    // An absent type of a Pika 3.x name with the name's expiry stays JSON (rare: not a small key's copy).
    if (record.prior.kind === 'absent') return record.prior.expireAt === undefined ? head : undefined;
    if (record.prior.kind === 'dump') return head + 8 + 4 + record.prior.payload.length;
    return undefined;
  }
  // An `applied` record's body is a step list (writeStepList), planned as one by format.ts.
  return undefined;
}

/** Writes the body of a `before` record compactSize() sized at `at` of `out`. */
export function writeCompact(record: JournalRecord, out: Buffer, at: number): void {
  const put = new Writer(out, at);
  if (record.kind === 'before') {
    const prior = record.prior;
    put.u8(prior.kind === 'absent' ? BEFORE_ABSENT : BEFORE_DUMP);
    put.u32(record.source);
    put.bytes(record.key);
    put.name(record.type);
    if (prior.kind === 'dump') {
      put.f64(prior.expireAt ?? Number.NaN);
      put.bytes(prior.payload);
    }
    return;
  }
  throw new Error(`internal: no binary form for a ${record.kind} record`);
}

/** The records of a binary body; throws on a body that does not parse (the frame is then bad). */
export function readCompact(body: Buffer): JournalRecord[] {
  const get = new Reader(body);
  const tag = get.u8();
  const source = get.u32();
  let record: JournalRecord;
  if (tag === ABSENT_RUN) {
    const count = get.u32();
    const records: JournalRecord[] = [];
    for (let i = 0; i < count; i++) {
      records.push({ kind: 'before', source, key: get.bytes(), type: get.name(), prior: { kind: 'absent' } });
    }
    if (!get.done()) throw new Error('trailing bytes in a record');
    return records;
  }
  if (tag === BEFORE_ABSENT || tag === BEFORE_DUMP) {
    const key = get.bytes();
    const type = get.name();
    if (tag === BEFORE_ABSENT) record = { kind: 'before', source, key, type, prior: { kind: 'absent' } };
    else {
      const expireAt = get.f64();
      const payload = get.bytes();
      const prior = { kind: 'dump' as const, payload, expireAt: Number.isNaN(expireAt) ? null : expireAt };
      record = { kind: 'before', source, key, type, prior };
    }
  } else if (tag === APPLIED) {
    const count = get.u32();
    const steps: [Buffer, string][] = [];
    for (let i = 0; i < count; i++) steps.push([get.bytes(), get.name()]);
    record = { kind: 'applied', source, steps };
  } else throw new Error(`unknown record tag ${tag}`);
  if (!get.done()) throw new Error('trailing bytes in a record');
  return [record];
}

class Writer {
  constructor(
    private readonly out: Buffer,
    private at: number,
  ) {}
  u8(n: number): void {
    this.out[this.at++] = n;
  }
  u32(n: number): void {
    this.at = this.out.writeUInt32LE(n, this.at);
  }
  f64(n: number): void {
    this.at = this.out.writeDoubleLE(n, this.at);
  }
  bytes(b: Buffer): void {
    this.u32(b.length);
    // A key is short: byte by byte is cheaper than a native copy call per key (as resp.ts encodes).
    if (b.length < 64) {
      for (let i = 0; i < b.length; i++) this.out[this.at + i] = b[i]!;
      this.at += b.length;
    } else this.at += b.copy(this.out, this.at);
  }
  /** A type name: short ASCII, written a character at a time (no native call per key). */
  name(s: string): void {
    this.u8(s.length);
    for (let i = 0; i < s.length; i++) this.out[this.at++] = s.charCodeAt(i) & 0xff;
  }
}

class Reader {
  private at = 0;
  constructor(private readonly body: Buffer) {}
  private need(n: number): void {
    if (this.at + n > this.body.length) throw new Error('a record shorter than its fields');
  }
  u8(): number {
    this.need(1);
    return this.body[this.at++]!;
  }
  u32(): number {
    this.need(4);
    const n = this.body.readUInt32LE(this.at);
    this.at += 4;
    return n;
  }
  f64(): number {
    this.need(8);
    const n = this.body.readDoubleLE(this.at);
    this.at += 8;
    return n;
  }
  bytes(): Buffer {
    const length = this.u32();
    this.need(length);
    // A copy: the body is a view of a read buffer that is reused.
    const b = Buffer.from(this.body.subarray(this.at, this.at + length));
    this.at += length;
    return b;
  }
  name(): string {
    const length = this.u8();
    this.need(length);
    const s = this.body.toString('latin1', this.at, this.at + length);
    this.at += length;
    return s;
  }
  done(): boolean {
    return this.at === this.body.length;
  }
}
