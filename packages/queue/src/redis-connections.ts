import { Redis, type RedisOptions } from 'ioredis';

/**
 * Factories for the two kinds of Redis connection Rekey uses. They differ on
 * purpose, because the two sides want opposite things from an outage:
 *
 * - a worker blocks on Redis for jobs and must survive any outage, so its
 *   commands wait for the connection to come back instead of failing
 *   (BullMQ refuses a worker connection that would give up);
 * - a producer answers an HTTP request, so its commands must fail within a
 *   bound when Redis is away, and the request fail with them, instead of
 *   hanging until a client or proxy gives up.
 *
 * Both reconnect for ever, with a capped backoff, so either recovers on its
 * own once Redis is back.
 *
 * Neither attaches an `error` listener: attach one (to log at `warn`),
 * since without any ioredis prints each connection error to stderr itself.
 */

/** The backoff between reconnection attempts. */
export const reconnectBackoff = Object.freeze({
  /** The delay before the first reconnection attempt. */
  initialMillis: 100,
  /** The longest delay between two attempts. */
  maxMillis: 5000,
});

/**
 * The delay before a reconnection attempt: exponential, capped at
 * {@link reconnectBackoff}.maxMillis, with up to 20% jitter so that many
 * processes do not hammer a Redis that has just come back all at once.
 *
 * @param attempt - the number of the attempt, from 1
 * @returns the delay in milliseconds; never null, so ioredis never stops
 *   reconnecting
 * @internal
 */
export function reconnectDelayMillis(attempt: number): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 16);
  const base = Math.min(
    reconnectBackoff.initialMillis * 2 ** exponent,
    reconnectBackoff.maxMillis,
  );
  const jitter = base * 0.2 * Math.random();

  return Math.round(Math.min(base + jitter, reconnectBackoff.maxMillis));
}

/**
 * Reconnects when a failover turned the node we are connected to into a
 * replica. `READONLY` answers a write sent to a replica; `2` makes ioredis
 * resend the command once reconnected. `UNBLOCKED` aborts a blocking read
 * when the node changes role; BullMQ issues a new one itself, so it is not
 * resent.
 */
function reconnectOnFailover(error: Error): boolean | 1 | 2 {
  const code = error.message.split(' ', 1)[0];
  if (code === 'READONLY') return 2;

  return code === 'UNBLOCKED';
}

/**
 * Creates the connection for BullMQ workers (and the queues a worker
 * process uses): `maxRetriesPerRequest: null`, so that a command waits out
 * an outage rather than failing after a few retries, with a ready check
 * and reconnection for ever with a capped backoff. BullMQ duplicates the
 * connection for its blocking reads; the copies inherit these options.
 *
 * @param redisUrl - `redis://[user:password@]host:port[/db]`, or `rediss://`
 * @returns a connection that starts connecting at once
 */
export function createWorkerConnection(redisUrl: string): Redis {
  const options: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: reconnectDelayMillis,
    reconnectOnError: reconnectOnFailover,
  };

  return new Redis(redisUrl, options);
}

/** Options of {@link createProducerConnection}. */
export interface ProducerConnectionOptions {
  /**
   * How long one command may take before it fails.
   *
   * @defaultValue 2000
   */
  readonly commandTimeoutMillis?: number;
  /**
   * How long one connection attempt may take before the next begins.
   *
   * @defaultValue 3000
   */
  readonly connectTimeoutMillis?: number;
}

/** The defaults of {@link ProducerConnectionOptions}. */
export const producerConnectionDefaults = Object.freeze({
  commandTimeoutMillis: 2000,
  connectTimeoutMillis: 3000,
});

/**
 * Creates the connection for producers that answer requests, such as the
 * scheduler's HTTP API. It fails fast while Redis is unreachable: commands
 * are not queued while disconnected (`enableOfflineQueue: false`), are
 * retried at most once across a reconnect (`maxRetriesPerRequest: 1`) and
 * give up after `commandTimeoutMillis`. It still reconnects for ever in the
 * background, so the next request after an outage succeeds.
 *
 * Never hand this connection to a BullMQ `Worker`: BullMQ refuses it.
 *
 * @param redisUrl - `redis://[user:password@]host:port[/db]`, or `rediss://`
 * @param options - timeouts
 * @returns a connection that starts connecting at once
 */
export function createProducerConnection(
  redisUrl: string,
  options: ProducerConnectionOptions = {},
): Redis {
  const redisOptions: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout:
      options.commandTimeoutMillis ??
      producerConnectionDefaults.commandTimeoutMillis,
    connectTimeout:
      options.connectTimeoutMillis ??
      producerConnectionDefaults.connectTimeoutMillis,
    enableReadyCheck: true,
    retryStrategy: reconnectDelayMillis,
    reconnectOnError: reconnectOnFailover,
  };

  return new Redis(redisUrl, redisOptions);
}

/** Whether a connection can serve commands now. */
export type Readiness = 'ready' | 'not-ready';

/**
 * Tells whether a connection is connected and past its ready check. Meant
 * for readiness probes: it costs no round trip, and it turns `not-ready`
 * the moment ioredis notices the connection is gone.
 *
 * @param redis - any ioredis connection
 * @returns `ready` or `not-ready`
 */
export function readinessOf(redis: Pick<Redis, 'status'>): Readiness {
  return redis.status === 'ready' ? 'ready' : 'not-ready';
}
