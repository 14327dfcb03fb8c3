import type { RangeStatus, RunStatus } from '../schema/rekey-database.js';

export type { RangeStatus, RunStatus };

/** One rotation of a tenant's DEK, as `rotation_runs` records it. */
export interface RotationRun {
  readonly id: number;
  readonly tenantId: string;
  /** The DEK the rows are re-encrypted from. */
  readonly fromKeyId: number;
  /** The DEK they are re-encrypted to; null until the run starts. */
  readonly toKeyId: number | null;
  readonly status: RunStatus;
  /** Rows under the old key when the run started. */
  readonly rowsTotal: number | null;
  /** Rows still under the old key when the run finished. */
  readonly rowsRemaining: number | null;
  /** HSM operations the run made. */
  readonly hsmCalls: number;
  readonly error: string | null;
  readonly requestedBy: string;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

/**
 * One id range `(loId, hiId]` of a run, re-encrypted batch by batch. The
 * checkpoint `cursorId` is the last id processed; it starts at `loId`.
 */
export interface RotationRange {
  readonly runId: number;
  /** Numbered from 1 in id order; sweep ranges added later follow. */
  readonly rangeNo: number;
  readonly loId: bigint;
  readonly hiId: bigint;
  readonly cursorId: bigint;
  /** Rows rewritten under the new key. */
  readonly rowsDone: number;
  /** Rows recorded as failed for the first time in this run. */
  readonly rowsFailed: number;
  readonly status: RangeStatus;
  readonly error: string | null;
}

/** A row a run could not re-encrypt. */
export interface RotationFailure {
  readonly rowId: bigint;
  /** A Rekey error code, such as `REKEY_CIPHERTEXT_AUTH_FAILED`. */
  readonly code: string;
  readonly reason: string;
}
