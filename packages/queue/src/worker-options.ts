import { RekeyError } from '@rekey/core';
import type { WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';

import { workerDefaults } from './queue-defaults.js';
import { defaultQueuePrefix, validateQueuePrefix } from './queue-prefix.js';

/** Input of {@link createWorkerOptions}. */
export interface RekeyWorkerOptionsInput {
  /** A connection from `createWorkerConnection`. */
  readonly connection: Redis;
  /**
   * The key prefix shared by all queues.
   *
   * @defaultValue `'{rekey}'`
   */
  readonly prefix?: string;
  /**
   * How many jobs one worker runs at once.
   *
   * @defaultValue 1
   */
  readonly concurrency?: number;
  /** @defaultValue `workerDefaults.lockDurationMillis` (60000) */
  readonly lockDurationMillis?: number;
  /** @defaultValue `workerDefaults.stalledIntervalMillis` (30000) */
  readonly stalledIntervalMillis?: number;
  /** @defaultValue `workerDefaults.maxStalledCount` (5) */
  readonly maxStalledCount?: number;
}

/**
 * Builds the options of a BullMQ `Worker` for one of Rekey's queues, with
 * the lock and stall settings of {@link workerDefaults}.
 *
 * @param input - the connection, the prefix and any overrides
 * @returns options to pass to `new Worker(name, processor, options)`
 * @throws RekeyError `REKEY_CONFIG_INVALID` when the connection would give
 *   up on commands during an outage (BullMQ refuses such a connection for
 *   workers) or the prefix has no single hash tag
 */
export function createWorkerOptions(
  input: RekeyWorkerOptionsInput,
): WorkerOptions {
  if (input.connection.options.maxRetriesPerRequest !== null) {
    throw new RekeyError(
      'REKEY_CONFIG_INVALID',
      'a worker connection must have maxRetriesPerRequest: null; create it with createWorkerConnection',
    );
  }
  const prefix = validateQueuePrefix(input.prefix ?? defaultQueuePrefix);

  return {
    connection: input.connection,
    prefix,
    concurrency: input.concurrency ?? 1,
    lockDuration: input.lockDurationMillis ?? workerDefaults.lockDurationMillis,
    stalledInterval:
      input.stalledIntervalMillis ?? workerDefaults.stalledIntervalMillis,
    maxStalledCount: input.maxStalledCount ?? workerDefaults.maxStalledCount,
  };
}
