import { RekeyError } from '@rekey/core';

import { classifyPgError } from '../errors/pg-error-classifier.js';
import type { PgClientLike, PgPoolLike } from '../pool/pg-pool-like.js';

/** What a retry of a batch transaction reports; it never holds row data. */
export interface BatchRetryEvent {
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** `REKEY_DB_CONFLICT`. */
  readonly code: string;
  /** 40001 (serialization failure) or 40P01 (deadlock). */
  readonly sqlstate: string;
  /** The wait before the next attempt. */
  readonly delayMillis: number;
  readonly runId: number;
  readonly rangeNo: number;
}

/** How {@link runBatchTransaction} retries. @internal */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly retryDelayMillis: number;
  readonly maxRetryDelayMillis: number;
  readonly onRetry: (event: BatchRetryEvent) => void;
}

/**
 * Wraps an error thrown by caller code (a batch transform) inside the
 * transaction, so that it is rethrown as it is rather than read as a
 * database failure.
 *
 * @internal
 */
export class CallerError {
  constructor(readonly error: unknown) {}
}

/**
 * Runs `work` in one READ COMMITTED transaction on a pooled connection.
 * On a serialization failure or deadlock the whole transaction — its
 * reads included — is rolled back and run again on a fresh connection,
 * after a jittered, exponentially growing wait, at most `maxAttempts`
 * times in all; the last conflict is thrown as a retryable
 * `REKEY_DB_CONFLICT`. Any other failure is rolled back and thrown at
 * once. The connection is given back in every case; one whose rollback
 * failed is closed instead, so no open transaction returns to the pool.
 *
 * @internal
 */
export async function runBatchTransaction<T>(
  pool: PgPoolLike,
  policy: RetryPolicy & { readonly runId: number; readonly rangeNo: number },
  work: (client: PgClientLike) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: PgClientLike;
    try {
      client = await pool.connect();
    } catch (error) {
      throw classifyPgError(error);
    }

    let failure: unknown;
    let broken = false;
    try {
      await client.query('begin isolation level read committed');
      const result = await work(client);
      await client.query('commit');

      return result;
    } catch (error) {
      failure = error;
      broken = !(await rollBack(client));
    } finally {
      client.release(broken);
    }

    if (failure instanceof CallerError) throw failure.error;

    const classified = classifyPgError(failure);
    if (classified.code !== 'REKEY_DB_CONFLICT') throw classified;

    const sqlstate = String(classified.details.sqlstate ?? '');
    if (attempt >= policy.maxAttempts) {
      throw new RekeyError(
        'REKEY_DB_CONFLICT',
        `the batch of range ${policy.rangeNo} of rotation ${policy.runId} met a serialization failure or deadlock on each of ${attempt} attempts; retry it later`,
        {
          cause: classified,
          details: { sqlstate, attempts: attempt, runId: policy.runId },
        },
      );
    }

    const delayMillis = backoffMillis(policy, attempt);
    policy.onRetry({
      attempt,
      maxAttempts: policy.maxAttempts,
      code: classified.code,
      sqlstate,
      delayMillis,
      runId: policy.runId,
      rangeNo: policy.rangeNo,
    });
    await sleep(delayMillis);
  }
}

/**
 * Half the capped exponential delay, plus a random part up to the other
 * half: waits grow, and two workers that collided do not retry in step.
 */
function backoffMillis(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(
    policy.maxRetryDelayMillis,
    policy.retryDelayMillis * 2 ** (attempt - 1),
  );

  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

async function rollBack(client: PgClientLike): Promise<boolean> {
  try {
    await client.query('rollback');

    return true;
  } catch {
    // The connection is unusable; the caller closes it, and the server
    // rolls the transaction back when the session ends.
    return false;
  }
}

function sleep(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, millis));
}
