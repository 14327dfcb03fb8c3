import { readEnvelopeHeader } from '@rekey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createRekeyFixture,
  type RekeyFixture,
} from '../support/rekey-fixture.js';

describe('rotation end to end, with worker processes', () => {
  let rekey: RekeyFixture;

  beforeAll(async () => {
    rekey = await createRekeyFixture({ rangeSize: 4_000, batchSize: 1_000 });
    await rekey.startWorker();
    await rekey.startWorker();
  });

  afterAll(async () => {
    await rekey?.[Symbol.asyncDispose]();
  });

  it('rotates a tenant of 20,000 rows, re-encrypts every row and retires the old key', async () => {
    await rekey.seed('tenant-a', 20_000);
    const before = await rekey.services.hierarchy.activeDek('tenant-a');
    const hsmBefore = rekey.services.hsm.operationCount;

    const requested = await rekey.rotate('tenant-a');
    const run = await rekey.waitForRun(requested.id);

    expect(run.status).toBe('completed');
    expect(run.rowsTotal).toBe(20_000);
    expect(run.rowsRemaining).toBe(0);
    const after = await rekey.services.hierarchy.activeDek('tenant-a');
    expect(after.version).toBe(before.version + 1);
    expect(run.toKeyId).toBe(after.id);
    expect((await rekey.services.keys.getKey(before.id))?.state).toBe(
      'retired',
    );
    expect(await rekey.services.runs.progress(run.id)).toEqual({
      rowsDone: 20_000,
      rowsFailed: 0,
    });

    const ranges = await rekey.services.runs.listRanges(run.id);
    expect(ranges.length).toBeGreaterThanOrEqual(5);
    expect(ranges.every((r) => r.status === 'done')).toBe(true);

    // The HSM is asked per key and process, never per row: generating the
    // DEK, and per worker unwrapping the KEK and two DEKs.
    expect(run.hsmCalls).toBeGreaterThan(0);
    expect(run.hsmCalls).toBeLessThanOrEqual(12);
    expect(rekey.services.hsm.operationCount).toBe(hsmBefore);

    const report = await rekey.verify('tenant-a');
    expect(report).toMatchObject({ rows: 20_000, verified: 20_000, failed: 0 });
    expect(report.byKey).toEqual([
      { keyId: after.id, version: after.version, rows: 20_000 },
    ]);
  });

  it('records a tampered row as failed, finishes the rest and keeps the old key', async () => {
    await rekey.seed('tenant-t', 3_000);
    const old = await rekey.services.hierarchy.activeDek('tenant-t');
    const { rows } = await rekey.services.pool.query<{ id: string }>(
      `select id from "${rekey.schema}".context_records
        where tenant_id = 'tenant-t' order by id offset 1234 limit 1`,
    );
    const tamperedId = BigInt(rows[0]!.id);
    // Flip one bit of the ciphertext body (after the 24-byte header and IV).
    await rekey.services.pool.query(
      `update "${rekey.schema}".context_records
          set ciphertext = set_byte(ciphertext, 30, get_byte(ciphertext, 30) # 1)
        where tenant_id = 'tenant-t' and id = $1`,
      [tamperedId.toString()],
    );

    const requested = await rekey.rotate('tenant-t');
    const run = await rekey.waitForRun(requested.id);

    expect(run.status).toBe('completed_with_failures');
    expect(run.rowsRemaining).toBe(1);
    expect((await rekey.services.keys.getKey(old.id))?.state).toBe(
      'decrypt-only',
    );
    const failures = await rekey.services.runs.listFailures(run.id);
    expect(failures).toEqual([
      expect.objectContaining({
        rowId: tamperedId,
        code: 'REKEY_CIPHERTEXT_AUTH_FAILED',
      }),
    ]);
    const counts = await rekey.services.records.countRowsByKey('tenant-t');
    expect(counts.get(old.id)).toBe(1);
    expect(counts.get(run.toKeyId!)).toBe(2_999);

    const { rows: stillOld } = await rekey.services.pool.query<{
      ciphertext: Buffer;
    }>(
      `select ciphertext from "${rekey.schema}".context_records
        where tenant_id = 'tenant-t' and id = $1`,
      [tamperedId.toString()],
    );
    expect(readEnvelopeHeader(stillOld[0]!.ciphertext).keyId).toBe(old.id);
  });

  it('refuses a rotation for an unknown tenant and creates no run', async () => {
    const runsBefore = await rekey.services.runs.listRuns({
      tenantId: 'nobody',
    });

    await expect(rekey.rotate('nobody')).rejects.toMatchObject({
      code: 'REKEY_TENANT_UNKNOWN',
    });
    expect(await rekey.services.runs.listRuns({ tenantId: 'nobody' })).toEqual(
      runsBefore,
    );
  });

  it('refuses a second rotation while one is running for the tenant', async () => {
    await rekey.seed('tenant-busy', 2_000);
    const first = await rekey.rotate('tenant-busy');

    await expect(rekey.rotate('tenant-busy')).rejects.toMatchObject({
      code: 'REKEY_ROTATION_IN_PROGRESS',
    });

    const run = await rekey.waitForRun(first.id);
    expect(run.status).toBe('completed');
    const versions = await rekey.services.keys.listKeys('dek', 'tenant-busy');
    expect(versions.map((k) => [k.version, k.state])).toEqual([
      [1, 'retired'],
      [2, 'active'],
    ]);
  });
});
