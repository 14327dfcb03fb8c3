import {
  createWorkerConnection,
  createWorkerOptions,
  jobNames,
  queueNames,
  RekeyQueues,
  jobIds,
} from '@rekey/queue';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';

import { testEnv, uniqueName } from '../support/test-env.js';

const runRef = (id: number) => ({ id, createdAt: new Date(0) });

// A flow's parent waits for its children. By default a child that fails for
// good, even with UnrecoverableError, leaves the parent in waiting-children
// for ever, and the rotation looks "running" for ever. Rekey adds range
// children with ignoreDependencyOnFailure, so the finalize step runs once
// every range has finished either way, and sees which ranges failed.

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch(() => undefined);
  }
});

function openQueues(prefix: string): RekeyQueues {
  const queues = RekeyQueues.open({ redisUrl: testEnv.redisUrl, prefix });
  cleanups.push(async () => {
    // Children first: removing a child touches its parent's keys.
    await queues.reencrypt.obliterate({ force: true });
    await queues.rotation.obliterate({ force: true });
    await queues.close();
  });

  return queues;
}

async function waitFor<T>(
  probe: () => T | undefined,
  timeoutMillis: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`nothing within ${timeoutMillis} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface FinalizeView {
  readonly runId: number;
  readonly processed: number;
  readonly ignored: number;
  readonly ignoredFailures: Record<string, string>;
}

describe('a run flow whose range fails for good', () => {
  it('still runs the finalize step, within a bound, and shows it the failed range', async () => {
    const prefix = `{${uniqueName('q')}}`;
    const queues = openQueues(prefix);
    const connection = createWorkerConnection(testEnv.redisUrl);
    cleanups.push(async () => connection.quit());
    const options = createWorkerOptions({ connection, prefix });

    const rangeAttempts = new Map<number, number>();
    const ranges = new Worker(
      queueNames.reencrypt,
      async (job: Job<{ runId: number; rangeNo: number }>) => {
        const { rangeNo } = job.data;
        rangeAttempts.set(rangeNo, (rangeAttempts.get(rangeNo) ?? 0) + 1);
        if (rangeNo === 3) {
          throw new UnrecoverableError('row 2051 failed GCM authentication');
        }

        return { rowsDone: 500 };
      },
      options,
    );
    cleanups.push(() => ranges.close());

    const finalized: FinalizeView[] = [];
    const finalizer = new Worker(
      queueNames.rotation,
      async (job: Job<{ runId: number }>) => {
        if (job.name !== jobNames.finalizeRotation) return null;
        const counts = await job.getDependenciesCount();
        finalized.push({
          runId: job.data.runId,
          processed: counts.processed ?? 0,
          ignored: counts.ignored ?? 0,
          ignoredFailures: await job.getIgnoredChildrenFailures(),
        });

        return null;
      },
      options,
    );
    cleanups.push(() => finalizer.close());

    await queues.enqueueRangeFlow({ run: runRef(41), rangeNos: [1, 2, 3, 4] });

    const view = await waitFor(() => finalized[0], 20_000);
    expect(view).toMatchObject({ runId: 41, processed: 3, ignored: 1 });
    expect(Object.entries(view.ignoredFailures)).toEqual([
      [
        `${prefix}:${queueNames.reencrypt}:${jobIds.reencryptRange(runRef(41), 3)}`,
        'row 2051 failed GCM authentication',
      ],
    ]);

    const parent = await queues.rotation.getJob(
      jobIds.finalizeRotation(runRef(41)),
    );
    await waitFor(() => (parent ? true : undefined), 1000);
    expect(await parent?.getState()).toBe('completed');
    expect(
      await (
        await queues.reencrypt.getJob(jobIds.reencryptRange(runRef(41), 3))
      )?.getState(),
    ).toBe('failed');
    // UnrecoverableError ends the range at once, whatever its attempts.
    expect(rangeAttempts.get(3)).toBe(1);
    expect(finalized).toHaveLength(1);
  });
});

describe('enqueueRangeFlow', () => {
  it('adds one flow however often it is called for a run, with ids only in the payloads', async () => {
    const queues = openQueues(`{${uniqueName('q')}}`);

    await queues.enqueueRangeFlow({ run: runRef(7), rangeNos: [0, 1, 2] });
    await queues.enqueueRangeFlow({ run: runRef(7), rangeNos: [0, 1, 2] });

    expect(await queues.rotation.getJobCounts('waiting-children')).toEqual({
      'waiting-children': 1,
    });
    const children = await queues.reencrypt.getJobs(['waiting']);
    expect(children.map((job) => job.id).sort()).toEqual([
      jobIds.reencryptRange(runRef(7), 0),
      jobIds.reencryptRange(runRef(7), 1),
      jobIds.reencryptRange(runRef(7), 2),
    ]);
    for (const child of children) {
      expect(Object.keys(child.data).sort()).toEqual(['rangeNo', 'runId']);
      expect(child.name).toBe(jobNames.reencryptRange);
      expect(child.opts.ignoreDependencyOnFailure).toBe(true);
    }
    const parent = await queues.rotation.getJob(
      jobIds.finalizeRotation(runRef(7)),
    );
    expect(parent?.data).toEqual({ runId: 7 });
  });

  it('refuses a range number given twice', async () => {
    const queues = openQueues(`{${uniqueName('q')}}`);

    await expect(
      queues.enqueueRangeFlow({ run: runRef(8), rangeNos: [1, 1] }),
    ).rejects.toMatchObject({ code: 'REKEY_INPUT_INVALID' });
  });
});
