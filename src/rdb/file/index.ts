/**
 * Reading RDB files as sources of a merge: one pass over the keys with bounded memory (file.ts), the
 * framing-only pre-read (`verifyRdbFile`), records as DUMP payloads (payload.ts), and the typed errors.
 */
import { RdbFile, type RdbFileOptions } from './file.js';
import type { RdbFileInfo } from './records.js';

export { elementCount } from './element-count.js';
export * from './errors.js';
export { MAX_RDB_VERSION, MIN_RDB_VERSION, RdbFile, type RdbFileOptions } from './file.js';
export { FileKeyIndex } from './key-index.js';
export { moduleName } from './module.js';
export { dumpPayload, payloadChunks, payloadSize } from './payload.js';
export type { RdbFileInfo, RdbKeyRecord } from './records.js';

/**
 * The pre-read: walks the framing of the whole file (no value is decoded or kept) and checks the
 * CRC-64 at its end. Resolves with what the file holds (version, AUX fields, keys, databases), or
 * rejects with the RdbFileError of the first damage, naming its byte offset.
 */
export async function verifyRdbFile(path: string, options?: RdbFileOptions): Promise<RdbFileInfo> {
  const file = await RdbFile.open(path, options);
  try {
    return await file.walk();
  } finally {
    await file.close();
  }
}
