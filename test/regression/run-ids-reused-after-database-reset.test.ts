import { migrateToLatest } from '@rekey/postgres';
import { afterEach, describe, expect, it } from 'vitest';

import {
  createRekeyFixture,
  type RekeyFixture,
} from '../support/rekey-fixture.js';

// Run and key ids restart when a database is recreated or restored, while
// Redis may still hold the finished jobs of the old runs, and a process may
// still hold the old keys in memory. A new run with a reused id must still
// be enqueued and run, and a reused key id must never be answered with the
// old key's bytes.
describe('a database recreated under the same queues', () => {
  let rekey: RekeyFixture | undefined;

  afterEach(async () => {
    await rekey?.[Symbol.asyncDispose]();
  });

  it('runs the new rotation with a reused run id, under the new keys', async () => {
    rekey = await createRekeyFixture({ batchSize: 200 });
    const fx = rekey;
    await fx.startWorker();
    await fx.seed('tenant-a', 500);
    const first = await fx.waitForRun((await fx.rotate('tenant-a')).id);
    expect(first.status).toBe('completed');

    await fx.services.pool.query(`drop schema "${fx.schema}" cascade`);
    await migrateToLatest(fx.services.pool, { schema: fx.schema });
    await fx.services.hierarchy.registerMasterKey(fx.config.hsm.masterLabel);
    await fx.services.hierarchy.ensureKek();
    await fx.seed('tenant-a', 500);
    const second = await fx.rotate('tenant-a');
    expect(second.id).toBe(first.id);

    const run = await fx.waitForRun(second.id, 60_000);

    expect(run.status).toBe('completed');
    expect(await fx.verify('tenant-a')).toMatchObject({
      rows: 500,
      verified: 500,
      failed: 0,
    });
  });
});

describe('a job in the queues that names a run this database holds under another identity', () => {
  let rekey: RekeyFixture | undefined;

  afterEach(async () => {
    await rekey?.[Symbol.asyncDispose]();
  });

  it('fails the job and leaves the run, its keys and its rows untouched', async () => {
    rekey = await createRekeyFixture();
    const fx = rekey;
    await fx.seed('tenant-a', 100);
    const before = await fx.services.hierarchy.activeDek('tenant-a');
    const run = await fx.services.runs.createRun({
      tenantId: 'tenant-a',
      fromKeyId: before.id,
      requestedBy: 'test',
    });
    const worker = await fx.startWorker();

    // As if another database sharing the prefix had enqueued its run.
    await fx.queues.enqueueRotation({ id: run.id, createdAt: new Date(0) });
    await worker.waitForLine(/"msg":"job failed"/);

    expect(worker.lines.join('\n')).toContain('REKEY_ROTATION_NOT_FOUND');
    expect((await fx.services.runs.getRun(run.id))?.status).toBe('pending');
    expect((await fx.services.hierarchy.activeDek('tenant-a')).id).toBe(
      before.id,
    );
    expect(await fx.services.keys.listKeys('dek', 'tenant-a')).toHaveLength(1);
  });
});
