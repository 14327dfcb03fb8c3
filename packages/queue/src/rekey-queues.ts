import { RekeyError } from '@rekey/core';
import { FlowProducer, Queue, type FlowJob, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';

import {
  finalizeRotationJobSchema,
  parseJobData,
  reencryptRangeJobSchema,
  rotateDekJobSchema,
} from './job-payload-schemas.js';
import { defaultJobOptions } from './queue-defaults.js';
import { translateQueueError } from './queue-errors.js';
import { jobIds, jobNames, queueNames, type RunRef } from './queue-names.js';
import { defaultQueuePrefix, validateQueuePrefix } from './queue-prefix.js';
import {
  createProducerConnection,
  producerConnectionDefaults,
  readinessOf,
  type Readiness,
} from './redis-connections.js';

/** Where Rekey's queues live. */
export interface QueueConnectionOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` */
  readonly redisUrl: string;
  /**
   * The key prefix of every queue; must hold one Redis Cluster hash tag
   * (see {@link validateQueuePrefix}).
   *
   * @defaultValue `'{rekey}'`
   */
  readonly prefix?: string;
}

/** Options of {@link RekeyQueues.open}. */
export interface RekeyQueuesOptions extends QueueConnectionOptions {
  /**
   * How long one Redis command may take; an enqueue fails with
   * `REKEY_QUEUE_UNAVAILABLE` after about this long at most.
   *
   * @defaultValue 2000
   */
  readonly commandTimeoutMillis?: number;
  /**
   * How long one connection attempt may take.
   *
   * @defaultValue 3000
   */
  readonly connectTimeoutMillis?: number;
  /**
   * Receives the errors of the connection (refused, reset, timed out) as
   * they happen, for logging. They also surface, translated, on the calls
   * that meet them.
   *
   * @defaultValue ignore them
   */
  readonly onConnectionError?: (error: Error) => void;
}

/** The input of {@link RekeyQueues.enqueueRangeFlow}. */
export interface RangeFlowInput {
  /** The rotation run the ranges belong to. */
  readonly run: RunRef;
  /** The numbers of the ranges to re-encrypt; each at most once. */
  readonly rangeNos: readonly number[];
}

interface RekeyQueuesParts {
  readonly redis: Redis;
  readonly prefix: string;
  readonly commandTimeoutMillis: number;
}

/**
 * The producer side of Rekey's queues: the rotation and reencrypt queues and
 * the flow producer that links them, on one fail-fast connection and one
 * hash-tagged prefix.
 *
 * Every enqueue is idempotent: job ids derive from the run (and range), and
 * BullMQ ignores an add whose id already exists. Every enqueue also fails
 * fast: when Redis is unreachable it rejects with `REKEY_QUEUE_UNAVAILABLE`
 * at once, or after `commandTimeoutMillis` at most, instead of waiting for
 * Redis to return.
 */
export class RekeyQueues {
  /** The queue of `rotate-dek` and `finalize-rotation` jobs. */
  readonly rotation: Queue;
  /** The queue of `reencrypt-range` jobs. */
  readonly reencrypt: Queue;
  /** Adds a run's finalize job together with its range jobs. */
  readonly flows: FlowProducer;
  /** The key prefix all three share. */
  readonly prefix: string;

  readonly #redis: Redis;
  readonly #commandTimeoutMillis: number;
  #closing: Promise<void> | undefined;
  #connecting: Promise<void> | undefined;

  /**
   * Opens the queues on a new producer connection.
   *
   * @param options - where Redis is, the prefix and the timeouts
   * @returns the queues; they connect in the background
   * @throws RekeyError `REKEY_CONFIG_INVALID` when the prefix has no single
   *   hash tag, or a timeout is not a positive integer
   */
  static open(options: RekeyQueuesOptions): RekeyQueues {
    const prefix = validateQueuePrefix(options.prefix ?? defaultQueuePrefix);
    const commandTimeoutMillis = positiveMillis(
      'commandTimeoutMillis',
      options.commandTimeoutMillis ??
        producerConnectionDefaults.commandTimeoutMillis,
    );
    const connectTimeoutMillis = positiveMillis(
      'connectTimeoutMillis',
      options.connectTimeoutMillis ??
        producerConnectionDefaults.connectTimeoutMillis,
    );

    const redis = createProducerConnection(options.redisUrl, {
      commandTimeoutMillis,
      connectTimeoutMillis,
    });
    redis.on('error', options.onConnectionError ?? ignore);

    return new RekeyQueues({ redis, prefix, commandTimeoutMillis });
  }

  private constructor(parts: RekeyQueuesParts) {
    this.#redis = parts.redis;
    this.#commandTimeoutMillis = parts.commandTimeoutMillis;
    this.prefix = parts.prefix;

    // The queues share the caller's connection, so BullMQ neither
    // duplicates nor closes it. The version check is skipped because its
    // INFO command runs once, when the queue first connects: if that one
    // command failed, the queue would stay broken until the process
    // restarts. Producers need no server capability the check detects.
    const shared = {
      connection: parts.redis,
      prefix: parts.prefix,
      skipVersionCheck: true,
    };
    this.rotation = new Queue(queueNames.rotation, shared);
    this.reencrypt = new Queue(queueNames.reencrypt, shared);
    this.flows = new FlowProducer(shared);

    // Connection errors reach the caller through `onConnectionError`; these
    // listeners only stop BullMQ from printing its copies of them.
    this.rotation.on('error', ignore);
    this.reencrypt.on('error', ignore);
    this.flows.on('error', ignore);
  }

  /**
   * Adds the `rotate-dek` job of a run, with a job id derived from the run
   * ({@link jobIds}). Adding it again while BullMQ still holds that job does
   * nothing.
   *
   * @param run - the rotation run
   * @throws RekeyError `REKEY_QUEUE_UNAVAILABLE` when Redis is unreachable
   *   or too slow; the job may then be absent, and in rare cases (the reply
   *   was lost, not the command) present
   * @throws RekeyError `REKEY_INPUT_INVALID` when `runId` is not a positive
   *   integer
   */
  async enqueueRotation(run: RunRef): Promise<void> {
    const runId = run.id;
    const data = parseJobData(rotateDekJobSchema, { runId });
    const opts = jobOptions(defaultJobOptions.rotateDek, {
      jobId: jobIds.rotateDek(run),
    });

    await this.#guard(`enqueue rotation run ${runId}`, () =>
      this.rotation.add(jobNames.rotateDek, data, opts),
    );
  }

  /**
   * Adds a run's re-encryption as one flow: the parent `finalize-rotation`
   * job (rotation queue) and one `reencrypt-range` child per range
   * (reencrypt queue), with job ids derived from the run ({@link jobIds}). The parent runs once every child has finished, whether it
   * succeeded or failed for good: children carry
   * `ignoreDependencyOnFailure`, so a failed range never leaves the parent
   * waiting for ever. The finalize step must therefore check each range's
   * outcome itself before it treats the run as done.
   *
   * Calling it again for the same run adds nothing while BullMQ still holds
   * the parent.
   *
   * @param input - the run and its range numbers
   * @throws RekeyError `REKEY_QUEUE_UNAVAILABLE` when Redis is unreachable
   *   or too slow
   * @throws RekeyError `REKEY_INPUT_INVALID` when the run id or a range
   *   number is malformed, or a range number repeats
   */
  async enqueueRangeFlow(input: RangeFlowInput): Promise<void> {
    const { run, rangeNos } = input;
    const runId = run.id;
    const parentData = parseJobData(finalizeRotationJobSchema, { runId });
    if (new Set(rangeNos).size !== rangeNos.length) {
      throw new RekeyError(
        'REKEY_INPUT_INVALID',
        `the ranges of run ${runId} repeat a range number`,
      );
    }

    const children = rangeNos.map((rangeNo) => ({
      name: jobNames.reencryptRange,
      queueName: queueNames.reencrypt,
      data: parseJobData(reencryptRangeJobSchema, { runId, rangeNo }),
      opts: jobOptions(defaultJobOptions.reencryptRange, {
        jobId: jobIds.reencryptRange(run, rangeNo),
        ignoreDependencyOnFailure: true,
      }),
    }));
    const flow: FlowJob = {
      name: jobNames.finalizeRotation,
      queueName: queueNames.rotation,
      data: parentData,
      opts: jobOptions(defaultJobOptions.finalizeRotation, {
        jobId: jobIds.finalizeRotation(run),
      }),
      children,
    };

    await this.#guard(`enqueue the ranges of run ${runId}`, () =>
      this.flows.add(flow),
    );
  }

  /**
   * Whether the connection is up and past its ready check, without a round
   * trip. For readiness probes.
   *
   * @returns `ready` or `not-ready`
   */
  readiness(): Readiness {
    if (this.#closing !== undefined) return 'not-ready';

    return readinessOf(this.#redis);
  }

  /**
   * Sends a `PING` to Redis.
   *
   * @returns true if Redis answered within `commandTimeoutMillis`; false
   *   otherwise, never an exception
   */
  async ping(): Promise<boolean> {
    if (this.readiness() !== 'ready') return false;

    try {
      const answer = await withDeadline(
        this.#redis.ping(),
        this.#commandTimeoutMillis,
      );

      return answer === 'PONG';
    } catch {
      return false;
    }
  }

  /**
   * Closes the flow producer, the queues and the connection, in that order.
   * Every step runs even if an earlier one fails; the first failure is
   * thrown at the end. Closing again returns the first close's outcome.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();

    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    const steps: Array<() => Promise<unknown>> = [
      () => this.flows.close(),
      () => this.reencrypt.close(),
      () => this.rotation.close(),
      () => closeConnection(this.#redis, this.#commandTimeoutMillis),
    ];
    const failures: unknown[] = [];
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        failures.push(error);
      }
    }

    if (failures.length > 0) {
      throw new AggregateError(failures, 'closing the queues failed');
    }
  }

  /**
   * Runs one queue operation so that it fails fast: at once when Redis is
   * known to be away, else within about the command timeout. The operation
   * starts only once the connection is ready. That order matters: BullMQ
   * waits, without limit, for a connection that is not ready yet, and an add
   * abandoned in that wait would still happen once Redis came back, after
   * the caller had been told it failed. The second deadline is a backstop;
   * each command already has its own timeout.
   */
  async #guard<T>(action: string, operation: () => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) {
      throw new RekeyError(
        'REKEY_QUEUE_UNAVAILABLE',
        `could not ${action}: the queues are closed`,
      );
    }

    try {
      await this.#connected();
      await withDeadline(this.#queuesReady(), this.#commandTimeoutMillis);

      return await withDeadline(operation(), 2 * this.#commandTimeoutMillis);
    } catch (error) {
      throw translateQueueError(error, action);
    }
  }

  /**
   * Resolves when the connection is ready. While a connection attempt is in
   * progress (at startup, or just after Redis came back) it waits for that
   * attempt, up to the command timeout; when Redis is known to be away (the
   * connection waits for its next reconnection attempt) it rejects at once.
   * Concurrent callers share one wait, so a burst of requests adds no pile
   * of listeners to the connection.
   */
  #connected(): Promise<void> {
    const status = this.#redis.status;
    if (status === 'ready') return Promise.resolve();
    if (status !== 'connecting' && status !== 'connect') {
      return Promise.reject(new Error(`the connection is ${status}`));
    }

    this.#connecting ??= waitForReady(
      this.#redis,
      this.#commandTimeoutMillis,
    ).finally(() => {
      this.#connecting = undefined;
    });

    return this.#connecting;
  }

  async #queuesReady(): Promise<void> {
    await Promise.all([
      this.rotation.waitUntilReady(),
      this.reencrypt.waitUntilReady(),
      this.flows.waitUntilReady(),
    ]);
  }
}

function ignore(): void {}

function positiveMillis(name: string, value: number): number {
  if (Number.isSafeInteger(value) && value > 0) return value;

  throw new RekeyError(
    'REKEY_CONFIG_INVALID',
    `${name} must be a positive integer of milliseconds, got ${value}`,
  );
}

/** A mutable copy of frozen defaults, merged with per-job options. */
function jobOptions(defaults: JobsOptions, extra: JobsOptions): JobsOptions {
  return { ...structuredClone(defaults), ...extra };
}

class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
}

/**
 * Settles like `promise`, or rejects once `millis` have passed. The promise
 * left behind keeps running; its late rejection is absorbed.
 */
async function withDeadline<T>(
  promise: Promise<T>,
  millis: number,
): Promise<T> {
  promise.catch(ignore);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DeadlineExceeded(`no answer within ${millis} ms`)),
      millis,
    );
  });

  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves on the connection's next `ready`; rejects when the attempt ends
 * (`close` or `end`) or `millis` pass first.
 */
function waitForReady(redis: Redis, millis: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: Error): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('close', onClosed);
      redis.off('end', onClosed);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onReady = (): void => settle();
    const onClosed = (): void =>
      settle(new Error('the connection attempt failed'));
    const timer = setTimeout(
      () => settle(new DeadlineExceeded(`not connected within ${millis} ms`)),
      millis,
    );
    redis.once('ready', onReady);
    redis.once('close', onClosed);
    redis.once('end', onClosed);
  });
}

async function closeConnection(redis: Redis, millis: number): Promise<void> {
  if (redis.status === 'end') return;

  if (redis.status !== 'ready') {
    redis.disconnect();

    return;
  }

  try {
    await withDeadline(redis.quit(), millis);
  } catch {
    // QUIT only lets Redis finish replies in flight; when it cannot be
    // sent or is not answered, dropping the socket is the same outcome.
    redis.disconnect();
  }
}
