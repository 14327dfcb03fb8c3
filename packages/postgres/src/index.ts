export { classifyPgError, sqlStateOf } from './errors/pg-error-classifier.js';
export {
  migrateToLatest,
  rekeyMigrations,
  type MigrateOptions,
  type MigrateResult,
} from './migrations/rekey-migrator.js';
export { PgKeyStore } from './keys/pg-key-store.js';
export { createPool, type CreatePoolOptions } from './pool/create-pool.js';
export type {
  PgClientLike,
  PgPoolLike,
  PgQueryConfigLike,
  PgQueryResultLike,
  PgTypeParsers,
} from './pool/pg-pool-like.js';
export type { BatchRetryEvent } from './records/batch-transaction.js';
export {
  decodeBinaryArray,
  decodeByteaArray,
  decodeInt8Array,
  encodeByteaArray,
  encodeInt8Array,
  encodeTextArray,
  pgTypeOids,
  type DecodedArray,
} from './records/binary-array-codec.js';
export type {
  BatchRow,
  BatchTransform,
  RowFailure,
} from './records/batch-transform.js';
export {
  maxRowId,
  minRowId,
  RecordBatchIo,
  type BatchResult,
  type RecordBatchIoOptions,
  type ReencryptBatchArgs,
} from './records/record-batch-io.js';
export {
  maxBindParameters,
  RecordBatchStatements,
  type BatchStatement,
} from './records/record-batch-statements.js';
export {
  checkRecordTable,
  defaultRecordTable,
  type CheckedRecordTable,
  type RecordTable,
} from './records/record-table.js';
export {
  rangeInsertChunkRows,
  RotationRunRepository,
  type ListRunsOptions,
  type NewRotationRun,
} from './rotation/rotation-run-repository.js';
export type {
  RangeStatus,
  RotationFailure,
  RotationRange,
  RotationRun,
  RunStatus,
} from './rotation/rotation-run-types.js';
export {
  createDatabase,
  type CreateDatabaseOptions,
} from './schema/create-database.js';
export type { RekeyDatabase } from './schema/rekey-database.js';
export {
  assertIdentifier,
  qualifiedName,
  quoteIdentifier,
} from './schema/sql-identifiers.js';
