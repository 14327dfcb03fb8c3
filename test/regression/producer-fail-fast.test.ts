import { isRekeyError, type RekeyError } from '@rekey/core';
import { RekeyQueues } from '@rekey/queue';
import { afterEach, describe, expect, it } from 'vitest';

import { uniqueName } from '../support/test-env.js';

const runRef = (id: number) => ({ id, createdAt: new Date(0) });

// The HTTP API enqueues through a producer connection. Retrying for ever, as
// a worker connection does, would make a request hang while Redis is down;
// the producer must answer REKEY_QUEUE_UNAVAILABLE within its timeout
// instead. Nothing listens on port 1 of the loopback address.

const unreachable = 'redis://127.0.0.1:1';
const opened: RekeyQueues[] = [];

afterEach(async () => {
  for (const queues of opened.splice(0)) await queues.close();
});

function openUnreachable(): RekeyQueues {
  const queues = RekeyQueues.open({
    redisUrl: unreachable,
    prefix: `{${uniqueName('q')}}`,
  });
  opened.push(queues);

  return queues;
}

async function rejection(promise: Promise<unknown>): Promise<RekeyError> {
  try {
    await promise;
  } catch (error) {
    if (isRekeyError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('the producer when Redis is unreachable (F02b)', () => {
  it(
    'rejects enqueueRotation with REKEY_QUEUE_UNAVAILABLE instead of hanging',
    { timeout: 15_000 },
    async () => {
      const queues = openUnreachable();

      const error = await rejection(queues.enqueueRotation(runRef(1)));

      expect(error.code).toBe('REKEY_QUEUE_UNAVAILABLE');
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/run 1/);
    },
  );

  it('rejects a range flow the same way', { timeout: 15_000 }, async () => {
    const queues = openUnreachable();

    const error = await rejection(
      queues.enqueueRangeFlow({ run: runRef(2), rangeNos: [0, 1] }),
    );

    expect(error.code).toBe('REKEY_QUEUE_UNAVAILABLE');
  });

  it(
    'keeps failing fast on later calls, while it reconnects in the background',
    { timeout: 15_000 },
    async () => {
      const queues = openUnreachable();
      await new Promise((resolve) => setTimeout(resolve, 1000));

      const errors = await Promise.all(
        [3, 4, 5].map((runId) =>
          rejection(queues.enqueueRotation(runRef(runId))),
        ),
      );

      expect(errors.map((error) => error.code)).toEqual([
        'REKEY_QUEUE_UNAVAILABLE',
        'REKEY_QUEUE_UNAVAILABLE',
        'REKEY_QUEUE_UNAVAILABLE',
      ]);
    },
  );

  it('reports itself not ready, and ping answers false', async () => {
    const queues = openUnreachable();

    expect(queues.readiness()).toBe('not-ready');
    await expect(queues.ping()).resolves.toBe(false);
  });

  it(
    'closes without waiting for Redis, twice',
    { timeout: 15_000 },
    async () => {
      const queues = openUnreachable();

      await queues.close();
      await queues.close();

      const error = await rejection(queues.enqueueRotation(runRef(6)));
      expect(error.code).toBe('REKEY_QUEUE_UNAVAILABLE');
    },
  );
});
