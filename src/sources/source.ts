import type { Redis } from 'ioredis';
import type { ProbeSide, ProbeUnit } from '../probe/probe.js';
import type { ByteProgress } from '../report/types.js';
import type { ScanBatch } from '../scan/scanner.js';
import type { Caps } from '../servers/caps.js';
import { type PayloadOrigin, serverPayload } from '../servers/payload-stream.js';
import { serverKeyspace } from '../servers/server.js';
import type { Transport } from '../servers/transport.js';
import { type BigValueReader, serverValues } from '../write/big-values.js';
import { type ReadRequest, readValues, type SourceValue } from '../write/read.js';

/**
 * What the run reads from one source, whatever it is: a live server (serverReader: SCAN, the probe's
 * pipelined round trip, value reads, big values by HSCAN and its kind) or an RDB file (rdb-file.ts:
 * its own batches in file order, the answers and values from its records, big values from its bytes).
 * The run (run/) asks only this, so that a new kind of source is one more implementation, not one
 * more branch in the loop.
 */
export interface SourceReader {
  /** Keys it holds, for progress and the run's total (DBSIZE; a file's RESIZEDB hint); undefined: unknown. */
  keyspace(): Promise<number | undefined>;
  /** Its own batches (a file, in its order); undefined: the run scans the source's nodes. */
  batches?(batchSize: number): AsyncIterable<ScanBatch>;
  /**
   * Keys asked by name outside its own batches (a resumed run's retries): made ready for the probe and
   * the value reads until released. A server needs nothing; a file finds them through its index.
   */
  hold?(units: readonly ProbeUnit[]): Promise<void>;
  /** A batch is settled: what was held for its keys is let go. */
  release(units: readonly ProbeUnit[]): void;
  /** The source as the probe asks it (a file answers for its keys itself). */
  readonly probeSide: ProbeSide;
  /** The values of keys decided for writing, read in one round (SPEC §1.5: with their TTLs). */
  values(requests: readonly ReadRequest[]): Promise<SourceValue[]>;
  /** Its big values, window by window (SPEC §2.3). */
  bigValues(): BigValueReader;
  /**
   * A big value as one DUMP payload read once, to be streamed into a RESTORE (write/stream-copy.ts);
   * undefined where it cannot be had so (a server not reachable now). `expectedBytes`: its size in memory.
   */
  bigPayload?(key: Buffer, expectedBytes: number): PayloadOrigin | undefined;
  /** Every key's size is known exactly from the probe (a file's bytes): no element count is asked. */
  readonly exactSizes: boolean;
  /** Where sizes are exact: a key's element count as the source itself says it, undefined where not known. */
  elements?(key: Buffer): number | undefined;
  /** Its bytes read once `walked` (0..1) of it is (a file); undefined for a server. */
  bytes?(walked: number): ByteProgress;
}

/** A live server as a source: its masters (scanned by the run), its hot-path pipe and what it can do. */
export function serverReader(server: { nodes: readonly Redis[]; pipe: Transport; caps: Caps }): SourceReader {
  const { nodes, pipe, caps } = server;
  return {
    keyspace: () => serverKeyspace(nodes, caps),
    release: () => undefined,
    probeSide: { pipe, caps },
    values: (requests) => readValues({ pipe, caps }, requests),
    bigValues: () => serverValues(pipe, caps),
    bigPayload: (key, expectedBytes) => {
      const at = pipe.serverOf?.(key);
      return at && serverPayload(at, key, expectedBytes);
    },
    exactSizes: false,
  };
}
