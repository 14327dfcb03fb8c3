import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, describe, expect, it } from 'vitest';

import {
  createRekeyFixture,
  type RekeyFixture,
} from '../support/rekey-fixture.js';

// Deploys send SIGTERM. A worker must stop taking jobs, stop its range at a
// batch boundary, hand the job back and exit 0; two deploys in a row must
// not fail a job.
describe('a worker stopped by SIGTERM during a rotation, twice', () => {
  let rekey: RekeyFixture | undefined;

  afterEach(async () => {
    await rekey?.[Symbol.asyncDispose]();
  });

  it('exits 0 each time, and the rotation completes with no job failed', async () => {
    rekey = await createRekeyFixture({ rangeSize: 2_500, batchSize: 250 });
    const fx = rekey;
    await fx.seed('tenant-a', 25_000);
    const requested = await fx.rotate('tenant-a');

    for (const threshold of [3_000, 12_000]) {
      const worker = await fx.startWorker();
      for (;;) {
        const { rowsDone } = await fx.services.runs.progress(requested.id);
        if (rowsDone >= threshold) break;
        await sleep(10);
      }

      const exit = await worker.stop();

      expect(exit).toEqual({ code: 0, signal: null });
      expect(
        worker.lines.some((l) => l.includes('"msg":"worker stopped"')),
      ).toBe(true);
      expect(await fx.queues.reencrypt.getActiveCount()).toBe(0);
    }
    await fx.startWorker();
    const run = await fx.waitForRun(requested.id);

    expect(run.status).toBe('completed');
    expect(await fx.queues.reencrypt.getFailedCount()).toBe(0);
    expect(await fx.services.runs.progress(run.id)).toEqual({
      rowsDone: 25_000,
      rowsFailed: 0,
    });
    const report = await fx.verify('tenant-a');
    expect(report).toMatchObject({ rows: 25_000, verified: 25_000, failed: 0 });
  });
});
