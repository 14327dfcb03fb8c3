import { setTimeout as sleep } from 'node:timers/promises';

import { jobIds } from '@rekey/queue';
import { afterEach, describe, expect, it } from 'vitest';

import {
  createRekeyFixture,
  type RekeyFixture,
} from '../support/rekey-fixture.js';
import { logLines } from '../support/worker-process.js';

// A worker that cannot renew its job lock (its event loop blocked, here: the
// whole process stopped) loses the job to another worker while it still
// runs it. Both then work on the same range; neither may re-encrypt a row
// from an already re-encrypted value, and the job must still complete.
describe('a range job whose lock was lost', () => {
  let rekey: RekeyFixture | undefined;

  afterEach(async () => {
    await rekey?.[Symbol.asyncDispose]();
  });

  it('ends with every row re-encrypted once, and the job completed', async () => {
    rekey = await createRekeyFixture({ rangeSize: 100_000, batchSize: 200 });
    const fx = rekey;
    await fx.seed('tenant-a', 6_000);
    const w1 = await fx.startWorker({
      REKEY_WORKER_LOCK_DURATION_MILLIS: '2000',
      REKEY_WORKER_STALLED_INTERVAL_MILLIS: '1000',
    });

    const requested = await fx.rotate('tenant-a');
    for (;;) {
      const { rowsDone } = await fx.services.runs.progress(requested.id);
      if (rowsDone >= 600) break;
      await sleep(10);
    }
    w1.child.kill('SIGSTOP');
    const w2 = await fx.startWorker({
      REKEY_WORKER_LOCK_DURATION_MILLIS: '2000',
      REKEY_WORKER_STALLED_INTERVAL_MILLIS: '1000',
    });
    // W1's lock expires after 2 s and W2's stall check gives W2 the job;
    // W2 then waits on the row locks of W1's open batch until W1 goes on.
    await sleep(5_000);
    w1.child.kill('SIGCONT');

    const run = await fx.waitForRun(requested.id);

    expect(run.status).toBe('completed');
    expect(await fx.services.runs.progress(run.id)).toEqual({
      rowsDone: 6_000,
      rowsFailed: 0,
    });
    const report = await fx.verify('tenant-a');
    expect(report).toMatchObject({ rows: 6_000, verified: 6_000, failed: 0 });
    expect(report.byKey).toEqual([
      expect.objectContaining({ keyId: run.toKeyId, rows: 6_000 }),
    ]);
    const [range] = await fx.services.runs.listRanges(run.id);
    const job = await fx.queues.reencrypt.getJob(
      jobIds.reencryptRange(run, range!.rangeNo),
    );
    expect(await job?.getState()).toBe('completed');
    expect(logLines(w2, 'job done').map((l) => l.job)).toContain(
      'reencrypt-range',
    );
  });
});
