import { isRekeyError, RekeyError } from '@rekey/core';
import type { RotationRunRepository } from '@rekey/postgres';
import {
  finalizeRotationJobSchema,
  jobIds,
  jobNames,
  parseJobData,
  reencryptRangeJobSchema,
  rotateDekJobSchema,
  type RekeyQueues,
  type RunRef,
} from '@rekey/queue';
import type { RotationEngine } from '@rekey/rotation';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';

/** What the processors need. */
export interface ProcessorDeps {
  readonly engine: RotationEngine;
  readonly runs: RotationRunRepository;
  readonly queues: RekeyQueues;
  readonly hsm: { readonly operationCount: number };
  readonly log: Logger;
  /** Aborted when the process is asked to stop. */
  readonly stopping: AbortSignal;
}

/**
 * Runs the jobs of the rotation queue: `rotate-dek`, which makes the new
 * DEK current and enqueues the range jobs under a finalize parent, and
 * `finalize-rotation`.
 */
export function rotationProcessor(deps: ProcessorDeps) {
  return async (job: Job): Promise<unknown> => {
    if (job.name === jobNames.rotateDek) {
      const { runId } = parseJobData(rotateDekJobSchema, job.data);

      return runJob(deps, job, {
        runId,
        work: async () => {
          const run = await assertJobOfRun(deps, job, jobIds.rotateDek);
          const { rangeNos } = await deps.engine.startRotation(runId);
          if (rangeNos.length > 0) {
            await deps.queues.enqueueRangeFlow({ run, rangeNos });
          }

          return { ranges: rangeNos.length };
        },
      });
    }
    if (job.name === jobNames.finalizeRotation) {
      const { runId } = parseJobData(finalizeRotationJobSchema, job.data);

      return runJob(deps, job, {
        runId,
        work: async () => {
          await assertJobOfRun(deps, job, jobIds.finalizeRotation);

          return deps.engine.finalize(runId);
        },
      });
    }

    throw new UnrecoverableError(`unknown job name ${job.name}`);
  };
}

/**
 * Runs `reencrypt-range` jobs. When the process is asked to stop, the range
 * stops at its next batch boundary and the job goes back to the queue
 * without using up an attempt; it resumes from its checkpoint.
 */
export function reencryptProcessor(deps: ProcessorDeps) {
  return async (job: Job, token?: string): Promise<unknown> => {
    const { runId, rangeNo } = parseJobData(reencryptRangeJobSchema, job.data);

    const outcome = await runJob(deps, job, {
      runId,
      work: async () => {
        await assertJobOfRun(deps, job, (run) =>
          jobIds.reencryptRange(run, rangeNo),
        );

        return deps.engine.reencryptRange(runId, rangeNo, {
          signal: deps.stopping,
        });
      },
    });
    if (outcome.status === 'interrupted') {
      await job.moveToDelayed(Date.now() + 1000, token);
      throw new DelayedError();
    }

    return outcome;
  };
}

/**
 * Refuses a job that was not made for the run this database holds under
 * its id: job ids carry the run's creation time, so a job left in Redis by
 * a database since recreated, or by another database sharing the queue
 * prefix, is failed without touching any run or row.
 */
async function assertJobOfRun(
  deps: ProcessorDeps,
  job: Job,
  idOf: (run: RunRef) => string,
): Promise<RunRef> {
  const runId = (job.data as { runId: number }).runId;
  const run = await deps.runs.getRun(runId);
  if (run && idOf(run) === job.id) return run;

  throw new RekeyError(
    'REKEY_ROTATION_NOT_FOUND',
    `job ${job.id} names rotation ${runId}, which this database does not hold as that run: the job was left by a recreated database, or another database shares the queue prefix (give each its own REKEY_QUEUE_PREFIX)`,
    { details: { runId } },
  );
}

async function runJob<T>(
  deps: ProcessorDeps,
  job: Job,
  step: { readonly runId: number; readonly work: () => Promise<T> },
): Promise<T> {
  const { runId, work } = step;
  const log = deps.log.child({ jobId: job.id, job: job.name, runId });
  const hsmBefore = deps.hsm.operationCount;
  const started = performance.now();
  log.debug('job started');

  try {
    const result = await work();
    const status = (result as { status?: unknown } | undefined)?.status;
    log.info(
      {
        millis: Math.round(performance.now() - started),
        ...(typeof status === 'string' ? { status } : {}),
      },
      'job done',
    );

    return result;
  } catch (error) {
    throw await jobError(deps, { job, runId, error, log });
  } finally {
    const hsmCalls = deps.hsm.operationCount - hsmBefore;
    if (hsmCalls > 0) {
      await deps.runs.addHsmCalls(runId, hsmCalls).catch((err: unknown) => {
        log.warn({ err }, 'could not record hsm calls');
      });
    }
  }
}

interface JobFailure {
  readonly job: Job;
  readonly runId: number;
  readonly error: unknown;
  readonly log: Logger;
}

/**
 * Decides what the queue does with a failure. A permanent error ends the
 * job now (`UnrecoverableError`); a retryable one is rethrown for another
 * attempt. When no attempt is left, a `rotate-dek` or `finalize-rotation`
 * failure also ends the run as failed, so it never stays "running".
 */
async function jobError(
  deps: ProcessorDeps,
  failure: JobFailure,
): Promise<Error> {
  const { job, runId, error, log } = failure;
  if (error instanceof DelayedError) return error;

  const permanent = !isRekeyError(error) || !error.retryable;
  const attempts = job.opts.attempts ?? 1;
  const lastAttempt = permanent || job.attemptsMade + 1 >= attempts;
  log[lastAttempt ? 'error' : 'warn'](
    { err: error, attempt: job.attemptsMade + 1, attempts },
    lastAttempt ? 'job failed' : 'job failed, will retry',
  );

  // A job of a run this database does not hold must leave every run alone.
  const foreign = isRekeyError(error, 'REKEY_ROTATION_NOT_FOUND');
  if (lastAttempt && !foreign && job.name !== jobNames.reencryptRange) {
    const code = isRekeyError(error) ? error.code : 'REKEY_INTERNAL';
    const message = error instanceof Error ? error.message : String(error);
    await deps.runs
      .finishRun(runId, {
        status: 'failed',
        rowsRemaining: null,
        error: `${job.name} failed: ${code}: ${message}`,
      })
      .catch((err: unknown) => log.error({ err }, 'could not mark run failed'));
  }

  if (!permanent) return error as Error;
  const code = isRekeyError(error) ? `${error.code}: ` : '';

  return new UnrecoverableError(
    `${code}${error instanceof Error ? error.message : String(error)}`,
  );
}
