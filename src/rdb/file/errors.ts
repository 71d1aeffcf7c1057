/**
 * Why an RDB file cannot be read, one class per cause, each naming the file and the byte offset where
 * reading stopped, in a one-line message: `dump.rdb: byte 1234: …`. A caller (the fold, the pre-read)
 * matches on the class; a user reads the message.
 */
export class RdbFileError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    what: string,
  ) {
    super(`${file}: byte ${offset}: ${what}`);
    this.name = new.target.name;
  }
}

/** The path is a directory, a socket, or cannot be opened. */
export class RdbNotAFileError extends RdbFileError {
  constructor(file: string, why: string) {
    super(file, 0, why);
  }
}

/** A file of 0 bytes (a SAVE that never ran, a copy that failed). */
export class RdbEmptyFileError extends RdbFileError {
  constructor(file: string) {
    super(file, 0, 'the file is empty (0 bytes), not an RDB file');
  }
}

/** The file does not start with `REDIS` and four digits: another format. */
export class RdbFormatError extends RdbFileError {
  constructor(file: string, head: Buffer) {
    super(
      file,
      0,
      `not an RDB file: it starts with ${JSON.stringify(head.toString('latin1'))}, not "REDIS0…"`,
    );
  }
}

/** An RDB version outside 6–12 (Redis 3.2 to 8.x, Valkey 8). */
export class RdbVersionError extends RdbFileError {
  constructor(
    file: string,
    readonly version: number,
  ) {
    super(file, 5, `RDB version ${version} is not one kvmerge reads (6 to 12: Redis 3.2 to 8.x, Valkey 8)`);
  }
}

/** The file ends inside a record (or before the EOF opcode and its checksum). */
export class RdbTruncatedError extends RdbFileError {
  constructor(
    file: string,
    offset: number,
    readonly recordOffset: number,
    what = 'the file ends',
  ) {
    super(file, offset, `${what} inside the record that starts at byte ${recordOffset}: truncated`);
  }
}

/** The CRC-64 after the EOF opcode differs from the one the file's bytes give: a changed byte. */
export class RdbChecksumError extends RdbFileError {
  constructor(file: string, offset: number, stored: bigint, computed: bigint) {
    super(
      file,
      offset,
      `CRC-64 mismatch: the file says ${stored.toString(16)}, its bytes give ${computed.toString(16)}: a byte was changed`,
    );
  }
}

/** A byte where an opcode or an object type belongs that is neither. */
export class RdbUnknownTypeError extends RdbFileError {
  constructor(
    file: string,
    offset: number,
    readonly byte: number,
  ) {
    super(file, offset, `unknown opcode or value type 0x${byte.toString(16).padStart(2, '0')}`);
  }
}

/** Bytes that break the encoding (a bad length or string encoding, a malformed module value, …). */
export class RdbCorruptError extends RdbFileError {}

/** A well-formed part that kvmerge does not read (a pre-GA module value or function, an oversized key). */
export class RdbUnsupportedError extends RdbFileError {}
