import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';

import {
  createProducerConnection,
  createWorkerConnection,
  readinessOf,
  reconnectBackoff,
  reconnectDelayMillis,
} from './redis-connections.js';

// Nothing listens on port 1: these tests look at options only.
const nowhere = 'redis://127.0.0.1:1';
const opened: Redis[] = [];

function track(redis: Redis): Redis {
  redis.on('error', () => undefined);
  opened.push(redis);

  return redis;
}

afterEach(() => {
  for (const redis of opened.splice(0)) redis.disconnect();
});

describe('createWorkerConnection', () => {
  it('never gives up on a command, as BullMQ workers require', () => {
    const redis = track(createWorkerConnection(nowhere));

    expect(redis.options.maxRetriesPerRequest).toBeNull();
    expect(redis.options.enableReadyCheck).toBe(true);
    expect(redis.options.enableOfflineQueue).toBe(true);
  });

  it('keeps the setting on the copies BullMQ makes', () => {
    const copy = track(track(createWorkerConnection(nowhere)).duplicate());

    expect(copy.options.maxRetriesPerRequest).toBeNull();
  });

  it('reconnects for ever', () => {
    const redis = track(createWorkerConnection(nowhere));

    expect(redis.options.retryStrategy?.(1_000_000)).toBeTypeOf('number');
  });
});

describe('createProducerConnection', () => {
  it('fails fast while Redis is away', () => {
    const redis = track(createProducerConnection(nowhere));

    expect(redis.options.enableOfflineQueue).toBe(false);
    expect(redis.options.maxRetriesPerRequest).toBe(1);
    expect(redis.options.commandTimeout).toBe(2000);
  });

  it('takes its timeouts from the options', () => {
    const redis = track(
      createProducerConnection(nowhere, {
        commandTimeoutMillis: 500,
        connectTimeoutMillis: 700,
      }),
    );

    expect(redis.options.commandTimeout).toBe(500);
    expect(redis.options.connectTimeout).toBe(700);
  });

  it('is not ready before it has connected', () => {
    const redis = track(createProducerConnection(nowhere));

    expect(readinessOf(redis)).toBe('not-ready');
  });
});

describe('reconnectDelayMillis', () => {
  it('grows and stays within the cap', () => {
    const delays = [1, 2, 3, 5, 8, 50, 10_000].map(reconnectDelayMillis);

    expect(delays[0]).toBeGreaterThanOrEqual(reconnectBackoff.initialMillis);
    expect(delays[1]).toBeGreaterThan(delays[0] ?? 0);
    for (const delay of delays) {
      expect(delay).toBeLessThanOrEqual(reconnectBackoff.maxMillis);
    }
    expect(delays.at(-1)).toBeGreaterThanOrEqual(
      reconnectBackoff.maxMillis * 0.99,
    );
  });
});

describe('readinessOf', () => {
  it('is ready only in the ready state', () => {
    expect(readinessOf({ status: 'ready' })).toBe('ready');
    for (const status of ['wait', 'connecting', 'connect', 'reconnecting']) {
      expect(readinessOf({ status } as Pick<Redis, 'status'>)).toBe(
        'not-ready',
      );
    }
  });
});
