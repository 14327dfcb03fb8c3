/**
 * The names of Rekey's queues and jobs. Workers and producers import them
 * from here so that a rename can never leave one side listening on a queue
 * the other no longer fills.
 */

/** The BullMQ queues, one per kind of work. */
export const queueNames = Object.freeze({
  /** Rotation-level jobs: make the new DEK, then finalize the run. */
  rotation: 'rekey-rotation',
  /** Row-level jobs: re-encrypt one id range of a tenant's rows. */
  reencrypt: 'rekey-reencrypt',
} as const);

/** The name of one of {@link queueNames}. */
export type QueueName = (typeof queueNames)[keyof typeof queueNames];

/** The job names, which say what a job's payload is. */
export const jobNames = Object.freeze({
  /** In the rotation queue: create the tenant's next DEK version. */
  rotateDek: 'rotate-dek',
  /** In the reencrypt queue: re-encrypt one range of rows. */
  reencryptRange: 'reencrypt-range',
  /** In the rotation queue: the parent of a run's ranges; closes the run. */
  finalizeRotation: 'finalize-rotation',
} as const);

/** The name of one of {@link jobNames}. */
export type JobName = (typeof jobNames)[keyof typeof jobNames];

/**
 * A rotation run as the queues name it: its id and the moment it was
 * recorded. Both go into its job ids, because run ids alone repeat when a
 * database is restored or recreated while Redis still holds the jobs of the
 * old runs — and BullMQ silently ignores an add whose id it already holds.
 */
export interface RunRef {
  readonly id: number;
  readonly createdAt: Date;
}

/**
 * The deterministic job ids. Because an id is derived from the run, adding
 * the same job twice is a no-op in BullMQ, which makes every enqueue
 * idempotent. BullMQ forbids `:` in custom ids and ids that are bare
 * integers; these have neither.
 */
export const jobIds = Object.freeze({
  /** The `rotate-dek` job of a run. */
  rotateDek: (run: RunRef): string => `run-${runKey(run)}`,
  /** The `finalize-rotation` parent job of a run. */
  finalizeRotation: (run: RunRef): string => `run-${runKey(run)}-finalize`,
  /** The `reencrypt-range` job of one range of a run. */
  reencryptRange: (run: RunRef, rangeNo: number): string =>
    `run-${runKey(run)}-range-${rangeNo}`,
});

function runKey(run: RunRef): string {
  return `${run.id}.${run.createdAt.getTime().toString(36)}`;
}
