import type {
  RotationFailure,
  RotationRange,
  RotationRun,
} from '@rekey/postgres';

/**
 * The parts of other packages the scheduler calls, as small structural
 * interfaces. Each record type picks the fields the routes read from the
 * type `@rekey/postgres` returns, so `RotationRunRepository` and
 * `RekeyQueues` satisfy these ports as they are, and tests and other
 * wirings may pass anything of the same shape.
 */

/** The status of a rotation run. */
export type RunStatus = RotationRun['status'];

/** A rotation run, with the fields the API shows. */
export type RunRecord = Pick<
  RotationRun,
  | 'id'
  | 'tenantId'
  | 'status'
  | 'fromKeyId'
  | 'toKeyId'
  | 'rowsTotal'
  | 'rowsRemaining'
  | 'hsmCalls'
  | 'error'
  | 'requestedBy'
  | 'createdAt'
  | 'startedAt'
  | 'finishedAt'
>;

/** One id range of a run, with the fields the API shows. */
export type RangeRecord = Pick<
  RotationRange,
  'rangeNo' | 'status' | 'rowsDone' | 'rowsFailed' | 'error'
>;

/** Rows re-encrypted and rows failed, summed over a run's ranges. */
export type RunProgress = Pick<RotationRange, 'rowsDone' | 'rowsFailed'>;

/** One row a run could not re-encrypt. */
export type FailureRecord = Pick<RotationFailure, 'rowId' | 'code' | 'reason'>;

/** The rotation runs, in PostgreSQL. */
export interface RotationRunStore {
  /**
   * Records a new pending run.
   *
   * @throws RekeyError `REKEY_ROTATION_IN_PROGRESS` when the tenant has a
   *   pending or running run
   */
  createRun(input: {
    tenantId: string;
    fromKeyId: number;
    requestedBy: string;
  }): Promise<RunRecord>;
  getRun(id: number): Promise<RunRecord | undefined>;
  listRuns(filter: {
    tenantId?: string;
    limit?: number;
  }): Promise<readonly RunRecord[]>;
  finishRun(
    id: number,
    outcome: { status: 'failed'; rowsRemaining: null; error: string },
  ): Promise<void>;
  listRanges(runId: number): Promise<readonly RangeRecord[]>;
  listFailures(
    runId: number,
    options: { limit: number },
  ): Promise<readonly FailureRecord[]>;
  progress(runId: number): Promise<RunProgress>;
}

/** The key registry, for the tenant's current DEK. */
export interface ActiveKeyFinder {
  findActiveKey(
    kind: 'dek',
    scope: string,
  ): Promise<{ readonly id: number } | undefined>;
}

/** The producer side of the job queues. */
export interface RotationQueue {
  /**
   * @throws RekeyError `REKEY_QUEUE_UNAVAILABLE` when Redis is unreachable
   */
  enqueueRotation(run: { id: number; createdAt: Date }): Promise<void>;
  readiness(): 'ready' | 'not-ready';
}

/** Something that answers `select 1`, such as a `pg.Pool`. */
export interface DatabaseProbe {
  query(text: string): Promise<unknown>;
}
