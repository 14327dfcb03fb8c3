import { isRekeyError } from '@rekey/core';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';

import { workerDefaults } from './queue-defaults.js';
import {
  createProducerConnection,
  createWorkerConnection,
} from './redis-connections.js';
import { createWorkerOptions } from './worker-options.js';

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

describe('createWorkerOptions', () => {
  it('applies the lock and stall defaults and the shared prefix', () => {
    const connection = track(createWorkerConnection(nowhere));

    expect(createWorkerOptions({ connection })).toMatchObject({
      connection,
      prefix: '{rekey}',
      concurrency: 1,
      lockDuration: workerDefaults.lockDurationMillis,
      stalledInterval: workerDefaults.stalledIntervalMillis,
      maxStalledCount: workerDefaults.maxStalledCount,
    });
  });

  it('refuses a fail-fast producer connection', () => {
    const connection = track(createProducerConnection(nowhere));

    let caught: unknown;
    try {
      createWorkerOptions({ connection });
    } catch (error) {
      caught = error;
    }

    expect(isRekeyError(caught, 'REKEY_CONFIG_INVALID')).toBe(true);
  });

  it('refuses a prefix without a hash tag', () => {
    const connection = track(createWorkerConnection(nowhere));

    expect(() => createWorkerOptions({ connection, prefix: 'bull' })).toThrow(
      /hash tag/,
    );
  });
});
