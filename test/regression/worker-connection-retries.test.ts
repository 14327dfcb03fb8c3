import { createWorkerConnection, createWorkerOptions } from '@rekey/queue';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { testEnv, uniqueName } from '../support/test-env.js';

// Workers block on Redis; with ioredis' default of 20 retries per request a
// blocking command fails during an outage, so BullMQ refuses (or, given
// options rather than a client, overrides with a warning) any worker
// connection with a finite maxRetriesPerRequest. The factory must always
// give workers null, and BullMQ must take it without a word.

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch(() => undefined);
  }
  vi.restoreAllMocks();
});

/** Everything BullMQ or Node might say while the worker starts. */
function captureOutput(): string[] {
  const said: string[] = [];
  const record = (...args: unknown[]): void => {
    said.push(args.map(String).join(' '));
  };
  for (const method of ['error', 'warn', 'log', 'info'] as const) {
    vi.spyOn(console, method).mockImplementation(record);
  }
  const onWarning = (warning: Error): void => record(warning.message);
  process.on('warning', onWarning);
  cleanups.push(async () => process.off('warning', onWarning));

  return said;
}

describe('worker connections (F02a)', () => {
  it('are created with maxRetriesPerRequest null, on the instance itself', async () => {
    const connection = createWorkerConnection(testEnv.redisUrl);
    cleanups.push(async () => connection.disconnect());

    expect(connection.options.maxRetriesPerRequest).toBeNull();
    expect(connection.duplicate().options.maxRetriesPerRequest).toBeNull();
  });

  it('start a BullMQ worker with no error or warning, and it processes a job', async () => {
    const said = captureOutput();
    const prefix = `{${uniqueName('q')}}`;
    const name = uniqueName('worker-connection');
    const connection = createWorkerConnection(testEnv.redisUrl);
    cleanups.push(async () => connection.quit());

    const workerErrors: Error[] = [];
    const worker = new Worker(
      name,
      async (job) => ({ echoed: job.data.n }),
      createWorkerOptions({ connection, prefix }),
    );
    worker.on('error', (error) => workerErrors.push(error));
    cleanups.push(() => worker.close());
    await worker.waitUntilReady();

    const queue = new Queue(name, { connection, prefix });
    cleanups.push(async () => {
      await queue.obliterate({ force: true });
      await queue.close();
    });
    const completed = new Promise<unknown>((resolve) =>
      worker.once('completed', (_job, result) => resolve(result)),
    );
    await queue.add('probe', { n: 1 });

    await expect(completed).resolves.toEqual({ echoed: 1 });
    expect(workerErrors).toEqual([]);
    expect(said).toEqual([]);
  });

  it('are needed: BullMQ refuses a connection built with ioredis defaults', () => {
    const plain = new Redis(testEnv.redisUrl, { lazyConnect: true });
    cleanups.push(async () => plain.disconnect());

    expect(
      () =>
        new Worker(uniqueName('refused'), null, {
          connection: plain,
          prefix: `{${uniqueName('q')}}`,
          autorun: false,
        }),
    ).toThrow(/maxRetriesPerRequest must be null/);
  });

  it('are needed: BullMQ warns when given options with a finite retry count', async () => {
    const said = captureOutput();
    const { hostname, port } = new URL(testEnv.redisUrl);

    const worker = new Worker(uniqueName('warned'), null, {
      connection: {
        host: hostname,
        port: Number(port || 6379),
        maxRetriesPerRequest: 20,
      },
      prefix: `{${uniqueName('q')}}`,
      autorun: false,
    });
    cleanups.push(() => worker.close());

    expect(said.join('\n')).toMatch(/maxRetriesPerRequest must be null/);
  });
});
