/**
 * The parts of other packages the scheduler calls, as small structural
 * interfaces. `@rekey/postgres` and `@rekey/queue` satisfy them; tests and
 * other wirings may pass anything that does. Fields the scheduler only
 * passes through to the client are typed loosely, so a repository that
 * returns a richer row still fits.
 */

/** The status of a rotation run. */
export type RunStatus =
  'pending' | 'running' | 'completed' | 'completed_with_failures' | 'failed';

/** A count as the repository returns it. */
export type Count = number | bigint;

/** A rotation run as the repository returns it. */
export interface RunRecord {
  readonly id: number;
  readonly tenantId: string;
  readonly status: RunStatus | (string & {});
  readonly fromKeyId?: number | bigint | string | null;
  readonly toKeyId?: number | bigint | string | null;
  readonly rowsTotal?: Count | string | null;
  readonly rowsRemaining?: Count | string | null;
  readonly hsmCalls?: Count | string | null;
  readonly error?: string | null;
  readonly requestedBy?: string | null;
  readonly createdAt?: Date | string | null;
  readonly startedAt?: Date | string | null;
  readonly finishedAt?: Date | string | null;
}

/** One id range of a run. */
export interface RangeRecord {
  readonly rangeNo: number;
  readonly status: string;
  readonly rowsDone: Count | string;
  readonly rowsFailed: Count | string;
  readonly error: string | null;
}

/** One row a run could not re-encrypt. */
export interface FailureRecord {
  readonly rowId: bigint | number | string;
  readonly code: string;
  readonly reason: string;
}

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
  ): Promise<unknown>;
  listRanges(runId: number): Promise<readonly RangeRecord[]>;
  listFailures(
    runId: number,
    options: { limit: number },
  ): Promise<readonly FailureRecord[]>;
  progress(runId: number): Promise<{ rowsDone: Count; rowsFailed: Count }>;
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
  enqueueRotation(runId: number): Promise<void>;
  readiness(): 'ready' | 'not-ready';
}

/** Something that answers `select 1`, such as a `pg.Pool`. */
export interface DatabaseProbe {
  query(text: string): Promise<unknown>;
}
