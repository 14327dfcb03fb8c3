import type { KeyKind, KeyState } from '@rekey/core';
import type { ColumnType, Generated, GeneratedAlways } from 'kysely';

/**
 * The tables of Rekey's schema, as kysely sees them. node-postgres returns
 * bigint (int8) and numeric values as decimal strings; the repositories
 * convert them.
 */

type Int8Input = number | bigint | string;

/** A bigint column: read as a decimal string. */
export type Int8 = ColumnType<string, Int8Input, Int8Input>;

/** A nullable bigint column. */
export type NullableInt8 = ColumnType<
  string | null,
  Int8Input | null | undefined,
  Int8Input | null
>;

/** A nullable timestamptz column. */
export type NullableTimestamp = ColumnType<
  Date | null,
  Date | null | undefined,
  Date | null
>;

/** Status of a rotation run. */
export type RunStatus =
  'pending' | 'running' | 'completed' | 'completed_with_failures' | 'failed';

/** Status of one range of a rotation run. */
export type RangeStatus = 'pending' | 'running' | 'done' | 'failed';

/** `keys`: every version of every master key, KEK and DEK. */
export interface KeysTable {
  id: GeneratedAlways<string>;
  kind: KeyKind;
  scope: string;
  version: number;
  state: KeyState;
  wrapped_by_id: NullableInt8;
  wrap_mechanism: string | null;
  wrapped_key: Buffer | null;
  hsm_label: string | null;
  created_by_run: NullableInt8;
  created_at: Generated<Date>;
  activated_at: NullableTimestamp;
  retired_at: NullableTimestamp;
}

/** `rotation_runs`: one row per requested rotation of a tenant's DEK. */
export interface RotationRunsTable {
  id: GeneratedAlways<string>;
  tenant_id: string;
  from_key_id: Int8;
  to_key_id: NullableInt8;
  status: Generated<RunStatus>;
  rows_total: NullableInt8;
  rows_remaining: NullableInt8;
  hsm_calls: Generated<string>;
  error: string | null;
  requested_by: string;
  created_at: Generated<Date>;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
}

/** `rotation_ranges`: the id ranges of a run, each with its checkpoint. */
export interface RotationRangesTable {
  run_id: Int8;
  range_no: number;
  lo_id: Int8;
  hi_id: Int8;
  cursor_id: Int8;
  rows_done: Generated<string>;
  rows_failed: Generated<string>;
  status: Generated<RangeStatus>;
  error: string | null;
  updated_at: Generated<Date>;
}

/** `rotation_failures`: rows a run could not re-encrypt, and why. */
export interface RotationFailuresTable {
  run_id: Int8;
  row_id: Int8;
  code: string;
  reason: string;
  at: Generated<Date>;
}

/** `context_records`: the default table of encrypted rows. */
export interface ContextRecordsTable {
  tenant_id: string;
  id: Generated<string>;
  key_id: Int8;
  ciphertext: Buffer;
  updated_at: Generated<Date>;
}

/** Rekey's schema, for `Kysely<RekeyDatabase>`. */
export interface RekeyDatabase {
  keys: KeysTable;
  rotation_runs: RotationRunsTable;
  rotation_ranges: RotationRangesTable;
  rotation_failures: RotationFailuresTable;
  context_records: ContextRecordsTable;
}
