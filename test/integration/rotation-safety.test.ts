import { setTimeout as sleep } from 'node:timers/promises';

import { decryptRecord, encryptRecord, readEnvelopeHeader } from '@rekey/core';
import {
  contextDocument,
  recordContext,
  RotationEngine,
} from '@rekey/rotation';
import { afterEach, describe, expect, it } from 'vitest';

import {
  createRekeyFixture,
  type RekeyFixture,
} from '../support/rekey-fixture.js';
import { logLines } from '../support/worker-process.js';

let rekey: RekeyFixture | undefined;

afterEach(async () => {
  await rekey?.[Symbol.asyncDispose]();
  rekey = undefined;
});

async function readAll(fixture: RekeyFixture, tenantId: string) {
  const { rows } = await fixture.services.pool.query<{
    id: string;
    key_id: string;
    ciphertext: Buffer;
  }>(
    `select id, key_id, ciphertext from "${fixture.schema}".context_records
      where tenant_id = $1 order by id`,
    [tenantId],
  );

  return rows.map((r) => ({
    id: BigInt(r.id),
    keyId: Number(r.key_id),
    ciphertext: r.ciphertext,
  }));
}

describe('re-encryption safety', () => {
  it('never overwrites or loses a write the application makes during re-encryption', async () => {
    rekey = await createRekeyFixture({ rangeSize: 3_000, batchSize: 500 });
    const fx = rekey;
    const tenantId = 'tenant-live';
    await fx.seed(tenantId, 12_000);
    const ids = (await readAll(fx, tenantId)).map((r) => r.id);
    const expected = new Map<bigint, string>();
    const table = fx.config.table;
    const qualified = `"${fx.schema}".context_records`;

    // The application: rewrites random rows and inserts new ones, always
    // under the tenant's key current at the moment of the write, until the
    // rotation has finished.
    let stop = false;
    let writes = 0;
    const application = (async () => {
      while (!stop) {
        const active = await fx.services.hierarchy.activeDek(tenantId);
        const key = await fx.services.hierarchy.dataKey(active.id);
        const insert = writes % 5 === 0;
        const id = insert
          ? (await fx.services.records.allocateIds(1))[0]!
          : ids[Math.floor(Math.random() * ids.length)]!;
        const value = `app write ${writes} to row ${id}`;
        const ciphertext = encryptRecord(
          key,
          recordContext(table, tenantId, id),
          Buffer.from(value),
        );
        if (insert) {
          await fx.services.records.insertRecords(tenantId, [
            { id, keyId: key.keyId, ciphertext },
          ]);
          ids.push(id);
        } else {
          await fx.services.pool.query(
            `update ${qualified} set ciphertext = $1, key_id = $2, updated_at = now()
              where tenant_id = $3 and id = $4`,
            [ciphertext, key.keyId, tenantId, id.toString()],
          );
        }
        expected.set(id, value);
        writes++;
      }
    })();

    await fx.startWorker();
    await fx.startWorker();
    const requested = await fx.rotate(tenantId);
    const run = await fx.waitForRun(requested.id);
    stop = true;
    await application;

    expect(writes).toBeGreaterThan(50);
    expect(run.status).toBe('completed');
    const report = await fx.verify(tenantId);
    expect(report.failed).toBe(0);
    expect(report.rows).toBe(ids.length);
    const newKey = await fx.services.hierarchy.dataKey(run.toKeyId!);
    for (const row of await readAll(fx, tenantId)) {
      const header = readEnvelopeHeader(row.ciphertext);
      expect(header.keyId).toBe(newKey.keyId);
      const plaintext = decryptRecord(
        newKey,
        recordContext(table, tenantId, row.id),
        row.ciphertext,
      ).toString();
      const want = expected.get(row.id);
      if (want !== undefined) expect(plaintext).toBe(want);
      else
        expect(plaintext).toBe(
          contextDocument(tenantId, ids.indexOf(row.id)).toString(),
        );
    }
  });

  it('survives a worker killed with SIGKILL mid-batch and resumes without redoing committed batches', async () => {
    rekey = await createRekeyFixture({ rangeSize: 100_000, batchSize: 500 });
    const fx = rekey;
    const tenantId = 'tenant-kill';
    await fx.seed(tenantId, 30_000);
    const first = await fx.startWorker();

    const requested = await fx.rotate(tenantId);
    for (;;) {
      const { rowsDone } = await fx.services.runs.progress(requested.id);
      if (rowsDone >= 3_000) break;
      await sleep(20);
    }
    await first.kill();

    // Every row still decrypts, under whichever key its envelope names.
    const afterKill = await fx.verify(tenantId);
    expect(afterKill).toMatchObject({
      rows: 30_000,
      verified: 30_000,
      failed: 0,
    });
    const run0 = (await fx.services.runs.getRun(requested.id))!;
    expect(run0.status).toBe('running');
    const committed = (await readAll(fx, tenantId)).filter(
      (r) => r.keyId === run0.toKeyId,
    );
    expect(committed.length).toBeGreaterThanOrEqual(3_000);
    expect(committed.length).toBeLessThan(30_000);

    await fx.startWorker();
    const run = await fx.waitForRun(requested.id);

    expect(run.status).toBe('completed');
    expect(await fx.verify(tenantId)).toMatchObject({
      rows: 30_000,
      verified: 30_000,
      failed: 0,
    });
    const after = new Map(
      (await readAll(fx, tenantId)).map((r) => [r.id, r.ciphertext]),
    );
    for (const row of committed) {
      expect(
        after.get(row.id)?.equals(row.ciphertext),
        `row ${row.id} rewritten again`,
      ).toBe(true);
    }
  });

  it('lets two workers run the same range without encrypting a row twice', async () => {
    rekey = await createRekeyFixture({ rangeSize: 100_000, batchSize: 400 });
    const fx = rekey;
    const tenantId = 'tenant-twice';
    await fx.seed(tenantId, 8_000);
    const requested = await fx.rotate(tenantId);
    const { rangeNos } = await fx.services.engine.startRotation(requested.id);
    expect(rangeNos).toHaveLength(1);
    const rangeNo = rangeNos[0]!;

    const second = new RotationEngine({
      hierarchy: fx.services.hierarchy,
      keys: fx.services.keys,
      runs: fx.services.runs,
      records: fx.services.records,
      table: fx.config.table,
      batchSize: 400,
    });
    const [a, b] = await Promise.all([
      fx.services.engine.reencryptRange(requested.id, rangeNo),
      second.reencryptRange(requested.id, rangeNo),
    ]);

    expect(a.status).toBe('done');
    expect(b.status).toBe('done');
    expect(a.failed + b.failed).toBe(0);
    expect(a.rewritten + b.rewritten).toBe(8_000);
    expect(await fx.services.runs.progress(requested.id)).toEqual({
      rowsDone: 8_000,
      rowsFailed: 0,
    });
    const outcome = await fx.services.engine.finalize(requested.id);
    expect(outcome).toEqual({
      status: 'completed',
      rowsRemaining: 0,
      oldKeyRetired: true,
    });
    expect(await fx.verify(tenantId)).toMatchObject({
      rows: 8_000,
      verified: 8_000,
      failed: 0,
    });
  });

  it('shares one tenant rotation among several worker processes', async () => {
    rekey = await createRekeyFixture({ rangeSize: 1_500, batchSize: 500 });
    const fx = rekey;
    const tenantId = 'tenant-shared';
    await fx.seed(tenantId, 15_000);
    const workers = [
      await fx.startWorker(),
      await fx.startWorker(),
      await fx.startWorker(),
    ];

    const requested = await fx.rotate(tenantId);
    const run = await fx.waitForRun(requested.id);

    expect(run.status).toBe('completed');
    const byWorker = workers.map((w) => logLines(w, 'range finished').length);
    expect(byWorker.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(10);
    expect(byWorker.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
    expect(await fx.verify(tenantId)).toMatchObject({
      rows: 15_000,
      verified: 15_000,
      failed: 0,
    });
  });
});
