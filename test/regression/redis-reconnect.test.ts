import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

import {
  createWorkerConnection,
  createWorkerOptions,
  jobNames,
  queueNames,
  readinessOf,
  RekeyQueues,
  jobIds,
} from '@rekey/queue';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';

import { uniqueName } from '../support/test-env.js';

const runRef = (id: number) => ({ id, createdAt: new Date(0) });

// After a Redis restart or failover, reporters saw workers that never
// fetched again: queues accepted jobs, the worker count fell to 0, and only
// a redeploy helped. This test runs a private, throw-away redis-server, so
// it can stop it without disturbing anything else, and checks that a
// worker resumes by itself and that readiness follows the connection.

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch(() => undefined);
  }
});

const sleep = (millis: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, millis));

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') {
    throw new Error('no port');
  }

  return address.port;
}

async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMillis: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMillis} ms`);
    }
    await sleep(50);
  }
}

/** A redis-server of this test's own, without persistence. */
class PrivateRedis {
  readonly url: string;
  readonly #port: number;
  #process: ChildProcess | undefined;

  constructor(port: number) {
    this.#port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.#port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    this.#process = child;

    await waitUntil(() => this.#answers(), 10_000, 'redis-server start');
  }

  async stop(): Promise<void> {
    const child = this.#process;
    if (child === undefined || child.exitCode !== null) return;

    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    this.#process = undefined;
  }

  async #answers(): Promise<boolean> {
    const probe = new Redis(this.url, {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();

      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  }
}

describe('a worker across a Redis restart', () => {
  it(
    'reconnects by itself and processes a job enqueued after the restart',
    { timeout: 90_000 },
    async () => {
      const redis = new PrivateRedis(await freePort());
      await redis.start();
      cleanups.push(() => redis.stop());

      const prefix = `{${uniqueName('q')}}`;
      const connection = createWorkerConnection(redis.url);
      connection.on('error', () => undefined);
      cleanups.push(async () => connection.disconnect());
      const queues = RekeyQueues.open({ redisUrl: redis.url, prefix });
      cleanups.push(() => queues.close());

      const processed: number[] = [];
      const worker = new Worker(
        queueNames.rotation,
        async (job) => {
          processed.push(job.data.runId as number);
        },
        createWorkerOptions({ connection, prefix }),
      );
      worker.on('error', () => undefined);
      cleanups.push(() => worker.close(true));
      await worker.waitUntilReady();
      await waitUntil(() => readinessOf(connection) === 'ready', 5000, 'up');

      await queues.enqueueRotation(runRef(1));
      await waitUntil(() => processed.includes(1), 10_000, 'job before');

      await redis.stop();
      await waitUntil(
        () => readinessOf(connection) === 'not-ready',
        5000,
        'readiness turns not-ready',
      );
      expect(queues.readiness()).toBe('not-ready');
      await expect(queues.enqueueRotation(runRef(2))).rejects.toMatchObject({
        code: 'REKEY_QUEUE_UNAVAILABLE',
      });

      await sleep(3000);
      expect(readinessOf(connection)).toBe('not-ready');
      await redis.start();
      await waitUntil(
        () =>
          readinessOf(connection) === 'ready' && queues.readiness() === 'ready',
        15_000,
        'readiness turns ready',
      );

      const restartedAt = Date.now();
      await queues.enqueueRotation(runRef(3));
      await waitUntil(() => processed.includes(3), 30_000, 'job after');

      expect(Date.now() - restartedAt).toBeLessThan(30_000);
      expect(await queues.rotation.getWorkersCount()).toBeGreaterThanOrEqual(1);
      const job = await queues.rotation.getJob(jobIds.rotateDek(runRef(3)));
      expect(job?.name).toBe(jobNames.rotateDek);
      expect(await job?.getState()).toBe('completed');
      expect(processed).not.toContain(2);
    },
  );
});
