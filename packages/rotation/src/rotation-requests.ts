import { isRekeyError, RekeyError, type KeyStorePort } from '@rekey/core';
import type { RotationRun, RotationRunRepository } from '@rekey/postgres';

/** What {@link requestRotation} needs. */
export interface RotationRequestDeps {
  readonly keys: KeyStorePort;
  readonly runs: RotationRunRepository;
  /** Puts the run's first job in the queue; idempotent per run. */
  readonly enqueue: (runId: number) => Promise<void>;
}

/** A request to rotate one tenant's DEK. */
export interface RotationRequest {
  readonly tenantId: string;
  /** Who asked, for the record: a service or person, never a secret. */
  readonly requestedBy: string;
}

/**
 * Records a rotation run for the tenant and enqueues it. Nothing is left
 * half-done: a run that could not be enqueued is marked failed at once, so
 * it neither blocks the next request nor claims to be scheduled.
 *
 * @throws RekeyError `REKEY_TENANT_UNKNOWN` when the tenant has no DEK,
 *   `REKEY_ROTATION_IN_PROGRESS` when a run for it is pending or running,
 *   and the queue's error (`REKEY_QUEUE_UNAVAILABLE`) when enqueueing failed
 */
export async function requestRotation(
  deps: RotationRequestDeps,
  request: RotationRequest,
): Promise<RotationRun> {
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
    await deps.enqueue(run.id);
  } catch (error) {
    await deps.runs.finishRun(run.id, {
      status: 'failed',
      rowsRemaining: null,
      error: `not scheduled: ${isRekeyError(error) ? error.code : 'enqueue failed'}`,
    });
    throw error;
  }

  return run;
}
