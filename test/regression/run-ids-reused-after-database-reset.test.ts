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
