/**
 * kvmerge's public API. The CLI is one user of it.
 *
 *   const plan = await loadPlan({ source: ['redis://a:6379'], target: 'redis://t:6379', hash: 'merge' });
 *   const report = await runMerge(plan);
 *   const check = await verify(plan);   // check.differences === 0 when the target is the fold
 *   const info = await verifyRdbFile('dump.rdb');   // an RDB file's framing and CRC-64, or the damage
 */

export { ConfigError, ConnectionError, KvmergeError, RunError } from './common/errors.js';
export { type CliOverrides, loadPlan, resolvePlan } from './config/load.js';
export type { MergePlan, SourcePlan, WriteMode, WritePlan } from './config/plan.js';
export { redactUrl } from './config/url.js';
export type { FollowStatus } from './follow/follow.js';
export { type MergeHooks, runMerge } from './follow/start.js';
export { isPlanOf } from './journal/plan-digest.js';
export {
  type JournalHeader,
  journalTargetIs,
  openJournal,
  openWindows,
  type WindowLoader,
} from './journal/reader.js';
export {
  type RollbackHooks,
  type RollbackOptions,
  type RollbackReport,
  rollback,
} from './journal/rollback.js';
export type { JournaledKey, PriorState } from './journal/types.js';
export {
  dumpPayload,
  payloadChunks,
  payloadSize,
  RdbChecksumError,
  RdbCorruptError,
  RdbEmptyFileError,
  RdbFile,
  RdbFileError,
  type RdbFileInfo,
  type RdbFileOptions,
  RdbFormatError,
  type RdbKeyRecord,
  RdbNotAFileError,
  RdbTruncatedError,
  RdbUnknownTypeError,
  RdbUnsupportedError,
  RdbVersionError,
  verifyRdbFile,
} from './rdb/file/index.js';
export type { Counts } from './report/counters.js';
export { type RunEvent, RunEvents } from './report/events.js';
export { writeReportFile } from './report/json.js';
export { describeKey } from './report/key-name.js';
export { formatSummary } from './report/summary.js';
export type {
  ConflictSample,
  Fallback,
  FallbackSample,
  FollowSummary,
  JsonReport,
  ProgressSink,
  RunOutcome,
} from './report/types.js';
export { decide, foldTypes } from './run/decide.js';
export type { RunHooks } from './run/merge.js';
export type {
  Action,
  DataType,
  MergeOptions,
  MismatchPolicy,
  Strategy,
  StrategyTable,
} from './types/strategy.js';
export {
  type Difference,
  type VerifyHooks,
  type VerifyOptions,
  type VerifyReport,
  verify,
} from './verify/verify.js';
export { type DecodedPayload, decodePayload, UnsupportedPayloadError } from './write/rdb-payload.js';
