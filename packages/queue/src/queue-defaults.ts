import type { JobsOptions } from 'bullmq';

const minuteSeconds = 60;
const daySeconds = 24 * 60 * minuteSeconds;

/**
 * The job options each kind of job is added with.
 *
 * - `attempts` and exponential `backoff` cover retryable failures (Redis,
 *   PostgreSQL or the HSM briefly away); a permanent failure ends the job at
 *   once, because the worker throws BullMQ's `UnrecoverableError` for it.
 * - Finished jobs are kept for a while for the dashboard and for
 *   idempotency (re-adding a kept job id is a no-op), then trimmed by age
 *   (seconds) and count so Redis does not grow without bound. The run's
 *   record of truth is in PostgreSQL, not here.
 */
export const defaultJobOptions = deepFreeze({
  rotateDek: {
    attempts: 5,
    backoff: { type: 'exponential', delay: 5000 },
    removeOnComplete: { age: 7 * daySeconds, count: 1000 },
    removeOnFail: { age: 30 * daySeconds, count: 5000 },
  },
  reencryptRange: {
    attempts: 8,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { age: 1 * daySeconds, count: 10_000 },
    removeOnFail: { age: 30 * daySeconds, count: 10_000 },
  },
  finalizeRotation: {
    attempts: 5,
    backoff: { type: 'exponential', delay: 5000 },
    removeOnComplete: { age: 7 * daySeconds, count: 1000 },
    removeOnFail: { age: 30 * daySeconds, count: 5000 },
  },
} satisfies Record<string, JobsOptions>);

/**
 * The lock and stall settings for Rekey's workers.
 *
 * A job whose lock is not renewed within `lockDurationMillis` counts as
 * stalled at the next check, every `stalledIntervalMillis`, and goes back to
 * waiting; after `maxStalledCount` stalls it fails for good. BullMQ's default
 * of 1 means a job interrupted by two deploys in a row fails; 5 leaves room
 * for several rollouts and crashes while still stopping a job that kills
 * its worker every time.
 */
export const workerDefaults = Object.freeze({
  /**
   * How long a worker's lock on a job lasts without renewal. The worker renews
   * it every half of this, which a re-encryption batch must not block.
   */
  lockDurationMillis: 60_000,
  /** How often workers look for stalled jobs. */
  stalledIntervalMillis: 30_000,
  /** How many stalls a job survives before it fails. */
  maxStalledCount: 5,
});

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) {
    if (typeof inner === 'object' && inner !== null) deepFreeze(inner);
  }

  return Object.freeze(value);
}
