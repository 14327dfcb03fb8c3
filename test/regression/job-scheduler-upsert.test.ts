import { createRequire } from 'node:module';

import {
  createWorkerConnection,
  createWorkerOptions,
  queueNames,
  RekeyQueues,
} from '@rekey/queue';
import { Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';

import { testEnv, uniqueName } from '../support/test-env.js';

// Every scheduler instance upserts its schedules at boot with a fixed id.
// When several boot together (a rollout, a crash loop), reporters ended up
// with several delayed jobs for one scheduler, so the task ran several times
// as often as scheduled. Three instances upsert at once here, twice, while a
// worker is busy with the previous iteration: one scheduler, at most one
// delayed job, and the expected number of runs must result.

const schedulerId = 'rotate-kek-daily';
const everyMillis = 1000;
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch(() => undefined);
  }
});

const sleep = (millis: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, millis));

describe('upserting one job scheduler from several instances at once', () => {
  it('runs on a BullMQ release with the fixes for duplicate schedulers', () => {
    const { version } = createRequire(import.meta.url)(
      'bullmq/package.json',
    ) as { version: string };
    const [major = 0, minor = 0] = version.split('.').map(Number);

    expect(major * 1000 + minor).toBeGreaterThanOrEqual(6007);
  });

  it(
    'keeps one scheduler and at most one delayed job, and runs on schedule',
    { timeout: 30_000 },
    async () => {
      const prefix = `{${uniqueName('q')}}`;
      const instances = [1, 2, 3].map(() =>
        RekeyQueues.open({ redisUrl: testEnv.redisUrl, prefix }),
      );
      const [first] = instances;
      if (first === undefined) throw new Error('no instance');
      cleanups.push(async () => {
        for (const instance of instances) await instance.close();
      });
      cleanups.push(async () => {
        await first.rotation.removeJobScheduler(schedulerId);
        await first.rotation.obliterate({ force: true });
        await first.reencrypt.obliterate({ force: true });
      });

      const connection = createWorkerConnection(testEnv.redisUrl);
      cleanups.push(async () => connection.quit());
      const runs: number[] = [];
      const worker = new Worker(
        queueNames.rotation,
        async () => {
          runs.push(Date.now());
          // Still busy with this iteration when the next upserts arrive.
          await sleep(300);
        },
        createWorkerOptions({ connection, prefix }),
      );
      cleanups.push(() => worker.close());
      await worker.waitUntilReady();

      const upsertAll = (): Promise<unknown> =>
        Promise.all(
          instances.map((instance) =>
            instance.rotation.upsertJobScheduler(
              schedulerId,
              { every: everyMillis },
              { name: 'rotate-kek', data: { kek: 'kek-test' } },
            ),
          ),
        );
      const expectOneSchedule = async (): Promise<void> => {
        expect(await first.rotation.getJobSchedulersCount()).toBe(1);
        const delayed = await first.rotation.getDelayed();
        expect(
          delayed.filter((job) => job.repeatJobKey === schedulerId).length,
        ).toBeLessThanOrEqual(1);
      };

      const started = Date.now();
      await upsertAll();
      await expectOneSchedule();

      await sleep(1500);
      await upsertAll();
      await expectOneSchedule();

      await sleep(3000);
      const elapsedMillis = Date.now() - started;
      await expectOneSchedule();

      // About one run per second; duplicated schedulers would give two or
      // three times as many.
      const expected = elapsedMillis / everyMillis;
      expect(runs.length).toBeGreaterThanOrEqual(Math.floor(expected) - 2);
      expect(runs.length).toBeLessThanOrEqual(Math.ceil(expected) + 1);
    },
  );
});
