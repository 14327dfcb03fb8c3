import { RekeyError } from '@rekey/core';
import { ReplyError } from 'ioredis';

/**
 * Redis error replies that mean "not now" rather than "never": a replica
 * after a failover, a server still loading its data set, a busy script, a
 * cluster without quorum, an out-of-memory or failed-persistence refusal.
 * By the protocol, the first word of an error reply is its code.
 */
const transientReplyCodes = new Set([
  'BUSY',
  'CLUSTERDOWN',
  'LOADING',
  'MASTERDOWN',
  'MISCONF',
  'NOREPLICAS',
  'OOM',
  'READONLY',
  'TRYAGAIN',
]);

/**
 * The error for a queue operation that could not reach Redis in time.
 *
 * @param action - what was being done, as a verb phrase ("enqueue run 7")
 * @param cause - the lower-level error, if any
 * @returns a `REKEY_QUEUE_UNAVAILABLE` error, which is retryable
 * @internal
 */
export function queueUnavailable(action: string, cause?: unknown): RekeyError {
  return new RekeyError(
    'REKEY_QUEUE_UNAVAILABLE',
    `could not ${action}: Redis, which holds the job queues, is unreachable or did not answer in time; retry later`,
    cause === undefined ? {} : { cause: secretFree(cause) },
  );
}

/**
 * Translates what a BullMQ or ioredis call threw. Connection failures
 * (refused, closed, timed out, offline) and transient error replies become
 * `REKEY_QUEUE_UNAVAILABLE`.
 *
 * Known shortcoming: any other error reply (such as `CROSSSLOT` or
 * `WRONGTYPE`) and BullMQ's own argument errors are programming or
 * configuration faults with no registry code of their own yet; they are
 * returned unchanged, and surface as internal errors. A dedicated
 * "queue operation failed" code would remove this.
 *
 * @param error - what was caught
 * @param action - what was being done, as a verb phrase
 * @returns the error to throw
 * @internal
 */
export function translateQueueError(error: unknown, action: string): unknown {
  if (error instanceof RekeyError) return error;

  if (error instanceof ReplyError) {
    const code = String((error as Error).message).split(' ', 1)[0] ?? '';

    return transientReplyCodes.has(code)
      ? queueUnavailable(action, error)
      : error;
  }

  return queueUnavailable(action, error);
}

/**
 * A copy of an error with its name, message and errno code only. ioredis
 * attaches the failed command, arguments included, to its errors; an `AUTH`
 * command's argument is the password.
 */
function secretFree(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));

  const copy = new Error(error.message);
  copy.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(copy, { code });

  return copy;
}
