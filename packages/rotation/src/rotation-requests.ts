import { isRekeyError, RekeyError } from '@rekey/core';

/** A run as {@link requestRotation} needs it. */
export interface RequestedRun {
  readonly id: number;
  readonly createdAt: Date;
}

/** What {@link requestRotation} needs: the subset it calls. */
export interface RotationRequestDeps<Run extends RequestedRun> {
  readonly keys: {
    findActiveKey(
      kind: 'dek',
      scope: string,
    ): Promise<{ readonly id: number } | undefined>;
  };
  readonly runs: {
    createRun(input: {
      tenantId: string;
      fromKeyId: number;
      requestedBy: string;
    }): Promise<Run>;
    finishRun(
      id: number,
      outcome: { status: 'failed'; rowsRemaining: null; error: string },
    ): Promise<unknown>;
  };
  /** Puts the run's first job in the queue; idempotent per run. */
  readonly enqueue: (run: Run) => Promise<void>;
  /**
   * Told when a run could not be enqueued, with the error that marking it
   * failed met, if any (then the run is left pending without a job).
   */
  readonly onNotScheduled?: (
    run: Run,
    error: unknown,
    markError: unknown,
  ) => void;
}

/** A request to rotate one tenant's DEK. */
export interface RotationRequest {
  readonly tenantId: string;
  /** Who asked, for the record: a service or person, never a secret. */
  readonly requestedBy: string;
}

/**
 * Records a rotation run for the tenant and enqueues it; the scheduler's
 * API and every other caller go through here. Nothing is left half-done: a
 * run that could not be enqueued is marked failed at once, so it neither
 * blocks the next request nor claims to be scheduled.
 *
 * @throws RekeyError `REKEY_TENANT_UNKNOWN` when the tenant has no DEK,
 *   `REKEY_ROTATION_IN_PROGRESS` when a run for it is pending or running,
 *   and the queue's error (`REKEY_QUEUE_UNAVAILABLE`) when enqueueing failed
 */
export async function requestRotation<Run extends RequestedRun>(
  deps: RotationRequestDeps<Run>,
  request: RotationRequest,
): Promise<Run> {
  const current = await deps.keys.findActiveKey('dek', request.tenantId);
  if (!current) {
    throw new RekeyError(
      'REKEY_TENANT_UNKNOWN',
      `tenant ${JSON.stringify(request.tenantId)} has no data-encryption key, so there is nothing to rotate; check the tenant id`,
      { details: { tenantId: request.tenantId } },
    );
  }

  const run = await deps.runs.createRun({
    tenantId: request.tenantId,
    fromKeyId: current.id,
    requestedBy: request.requestedBy,
  });

  try {
    await deps.enqueue(run);
  } catch (error) {
    const reason = isRekeyError(error, 'REKEY_QUEUE_UNAVAILABLE')
      ? 'not scheduled: the job queue was unreachable'
      : 'not scheduled: the job queue refused the job';
    const markError = await deps.runs
      .finishRun(run.id, {
        status: 'failed',
        rowsRemaining: null,
        error: reason,
      })
      .then(
        () => undefined,
        (failure: unknown) => failure ?? new Error('finishRun failed'),
      );
    deps.onNotScheduled?.(run, error, markError);
    throw error;
  }

  return run;
}
