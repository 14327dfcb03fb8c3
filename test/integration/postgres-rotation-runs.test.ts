import { randomBytes } from 'node:crypto';

import { isRekeyError, type RekeyError } from '@rekey/core';
import {
  createDatabase,
  createPool,
  migrateToLatest,
  PgKeyStore,
  RotationRunRepository,
} from '@rekey/postgres';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { testEnv, uniqueName } from '../support/test-env.js';

const schema = uniqueName('rk');
let pool: pg.Pool;
let store: PgKeyStore;
let runs: RotationRunRepository;

/** A tenant with an active DEK; returns the DEK's id. */
async function tenantWithKey(): Promise<{ tenantId: string; keyId: number }> {
  const tenantId = uniqueName('tenant');
  const key = await store.addActiveVersion({
    kind: 'dek',
    scope: tenantId,
    wrappedById: null,
    wrapped: { mechanism: 'aes-key-wrap-pad', bytes: randomBytes(40) },
    hsmLabel: null,
  });

  return { tenantId, keyId: key.id };
}

beforeAll(async () => {
  pool = createPool({ connectionString: testEnv.databaseUrl, max: 4 });
  await migrateToLatest(pool, { schema });
  const db = createDatabase(pool, { schema });
  store = new PgKeyStore(db);
  runs = new RotationRunRepository(db);
});

afterAll(async () => {
  await pool.query(`drop schema if exists "${schema}" cascade`);
  await pool.end();
});

describe('RotationRunRepository', () => {
  it('creates a pending run', async () => {
    const { tenantId, keyId } = await tenantWithKey();

    const run = await runs.createRun({
      tenantId,
      fromKeyId: keyId,
      requestedBy: 'ops@example.test',
    });

    expect(run).toMatchObject({
      tenantId,
      fromKeyId: keyId,
      toKeyId: null,
      status: 'pending',
      rowsTotal: null,
      rowsRemaining: null,
      hsmCalls: 0,
      error: null,
      requestedBy: 'ops@example.test',
      startedAt: null,
      finishedAt: null,
    });
    expect(await runs.getRun(run.id)).toEqual(run);
    expect((await runs.findActiveRun(tenantId))?.id).toBe(run.id);
  });

  it('refuses a second run while one is pending, naming the running one', async () => {
    const { tenantId, keyId } = await tenantWithKey();
    const first = await runs.createRun({
      tenantId,
      fromKeyId: keyId,
      requestedBy: 'a',
    });

    const error = await runs
      .createRun({ tenantId, fromKeyId: keyId, requestedBy: 'b' })
      .catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_ROTATION_IN_PROGRESS')).toBe(true);
    expect((error as RekeyError).details).toEqual({
      tenantId,
      runId: first.id,
    });
    expect((error as RekeyError).retryable).toBe(false);
  });

  it('lets exactly one of concurrent requests through', async () => {
    const { tenantId, keyId } = await tenantWithKey();

    const outcomes = await Promise.allSettled(
      Array.from({ length: 4 }, (_, i) =>
        runs.createRun({ tenantId, fromKeyId: keyId, requestedBy: `r${i}` }),
      ),
    );

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      expect(isRekeyError(outcome.reason, 'REKEY_ROTATION_IN_PROGRESS')).toBe(
        true,
      );
    }
  });

  it('allows a new run once the previous one finished', async () => {
    const { tenantId, keyId } = await tenantWithKey();
    const first = await runs.createRun({
      tenantId,
      fromKeyId: keyId,
      requestedBy: 'a',
    });
    await runs.finishRun(first.id, {
      status: 'failed',
      rowsRemaining: null,
      error: 'stopped by test',
    });

    const second = await runs.createRun({
      tenantId,
      fromKeyId: keyId,
      requestedBy: 'a',
    });

    expect(second.id).not.toBe(first.id);
    expect((await runs.getRun(first.id))?.error).toBe('stopped by test');
  });

  it('refuses a key that is not a DEK of the tenant', async () => {
    const { keyId } = await tenantWithKey();

    const error = await runs
      .createRun({
        tenantId: uniqueName('other'),
        fromKeyId: keyId,
        requestedBy: 'a',
      })
      .catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_KEY_NOT_FOUND')).toBe(true);
  });

  it('starts, counts HSM calls and finishes a run', async () => {
    const { tenantId, keyId } = await tenantWithKey();
    const toKey = await store.addActiveVersion({
      kind: 'dek',
      scope: tenantId,
      wrappedById: null,
      wrapped: { mechanism: 'aes-key-wrap-pad', bytes: randomBytes(40) },
      hsmLabel: null,
    });
    const run = await runs.createRun({
      tenantId,
      fromKeyId: keyId,
      requestedBy: 'a',
    });

    await runs.startRun(run.id, { toKeyId: toKey.id, rowsTotal: 120 });
    await runs.startRun(run.id, { toKeyId: toKey.id, rowsTotal: 80 });
    await runs.addHsmCalls(run.id, 2);
    await runs.addHsmCalls(run.id, 3);
    const running = await runs.getRun(run.id);
    await runs.finishRun(run.id, { status: 'completed', rowsRemaining: 0 });
    await runs.finishRun(run.id, { status: 'completed', rowsRemaining: 0 });
    const finished = await runs.getRun(run.id);

    expect(running).toMatchObject({
      status: 'running',
      toKeyId: toKey.id,
      rowsTotal: 120,
      hsmCalls: 5,
    });
    expect(running?.startedAt).toBeInstanceOf(Date);
    expect(finished).toMatchObject({ status: 'completed', rowsRemaining: 0 });
    expect(finished?.finishedAt).toBeInstanceOf(Date);
    expect(await runs.findActiveRun(tenantId)).toBeUndefined();

    const restart = await runs
      .startRun(run.id, { toKeyId: toKey.id, rowsTotal: 1 })
      .catch((e: unknown) => e);
    const refinish = await runs
      .finishRun(run.id, { status: 'failed', rowsRemaining: 1 })
      .catch((e: unknown) => e);
    expect(isRekeyError(restart, 'REKEY_ROTATION_STATE_INVALID')).toBe(true);
    expect(isRekeyError(refinish, 'REKEY_ROTATION_STATE_INVALID')).toBe(true);
  });

  it('reports unknown runs', async () => {
    expect(await runs.getRun(999_999)).toBeUndefined();
    for (const call of [
      () => runs.startRun(999_999, { toKeyId: 1, rowsTotal: 0 }),
      () => runs.finishRun(999_999, { status: 'failed', rowsRemaining: null }),
      () => runs.addHsmCalls(999_999, 1),
      () => runs.createRanges(999_999, [{ loId: 0n, hiId: 1n }]),
      () => runs.setRangeStatus(999_999, 1, { status: 'done' }),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(isRekeyError(error, 'REKEY_ROTATION_NOT_FOUND')).toBe(true);
    }
  });

  it('lists runs newest first, by tenant', async () => {
    const { tenantId, keyId } = await tenantWithKey();
    const first = await runs.createRun({
      tenantId,
      fromKeyId: keyId,
      requestedBy: 'a',
    });
    await runs.finishRun(first.id, { status: 'failed', rowsRemaining: null });
    const second = await runs.createRun({
      tenantId,
      fromKeyId: keyId,
      requestedBy: 'a',
    });

    const listed = await runs.listRuns({ tenantId });

    expect(listed.map((r) => r.id)).toEqual([second.id, first.id]);
    expect(await runs.listRuns({ tenantId, limit: 1 })).toHaveLength(1);
    expect((await runs.listRuns()).length).toBeGreaterThanOrEqual(2);
  });

  describe('ranges', () => {
    it('creates ranges once: a second call keeps the first plan', async () => {
      const { tenantId, keyId } = await tenantWithKey();
      const run = await runs.createRun({
        tenantId,
        fromKeyId: keyId,
        requestedBy: 'a',
      });

      await runs.createRanges(run.id, [
        { loId: -(2n ** 63n), hiId: 100n },
        { loId: 100n, hiId: 2n ** 63n - 1n },
      ]);
      await runs.createRanges(run.id, [{ loId: 0n, hiId: 5n }]);
      const ranges = await runs.listRanges(run.id);

      expect(ranges).toEqual([
        {
          runId: run.id,
          rangeNo: 1,
          loId: -(2n ** 63n),
          hiId: 100n,
          cursorId: -(2n ** 63n),
          rowsDone: 0,
          rowsFailed: 0,
          status: 'pending',
          error: null,
        },
        {
          runId: run.id,
          rangeNo: 2,
          loId: 100n,
          hiId: 2n ** 63n - 1n,
          cursorId: 100n,
          rowsDone: 0,
          rowsFailed: 0,
          status: 'pending',
          error: null,
        },
      ]);
    });

    it('creates one plan when two calls race', async () => {
      const { tenantId, keyId } = await tenantWithKey();
      const run = await runs.createRun({
        tenantId,
        fromKeyId: keyId,
        requestedBy: 'a',
      });

      await Promise.all([
        runs.createRanges(run.id, [{ loId: 0n, hiId: 10n }]),
        runs.createRanges(run.id, [
          { loId: 0n, hiId: 5n },
          { loId: 5n, hiId: 10n },
        ]),
      ]);

      expect([1, 2]).toContain((await runs.listRanges(run.id)).length);
    });

    it('refuses empty, inverted or overlapping ranges', async () => {
      const { tenantId, keyId } = await tenantWithKey();
      const run = await runs.createRun({
        tenantId,
        fromKeyId: keyId,
        requestedBy: 'a',
      });

      for (const ranges of [
        [],
        [{ loId: 5n, hiId: 5n }],
        [
          { loId: 0n, hiId: 10n },
          { loId: 5n, hiId: 20n },
        ],
      ]) {
        const error = await runs
          .createRanges(run.id, ranges)
          .catch((e: unknown) => e);
        expect(isRekeyError(error, 'REKEY_INPUT_INVALID')).toBe(true);
      }
      expect(await runs.listRanges(run.id)).toEqual([]);
    });

    it('appends a sweep range after the planned ones', async () => {
      const { tenantId, keyId } = await tenantWithKey();
      const run = await runs.createRun({
        tenantId,
        fromKeyId: keyId,
        requestedBy: 'a',
      });
      await runs.createRanges(run.id, [
        { loId: 0n, hiId: 10n },
        { loId: 10n, hiId: 20n },
      ]);

      const sweep = await runs.addRange(run.id, {
        loId: -(2n ** 63n),
        hiId: 2n ** 63n - 1n,
      });

      expect(sweep.rangeNo).toBe(3);
      expect(sweep.cursorId).toBe(-(2n ** 63n));
      expect(await runs.getRange(run.id, 3)).toEqual(sweep);
      expect(await runs.getRange(run.id, 4)).toBeUndefined();
    });

    it('sets a range status and clears its error', async () => {
      const { tenantId, keyId } = await tenantWithKey();
      const run = await runs.createRun({
        tenantId,
        fromKeyId: keyId,
        requestedBy: 'a',
      });
      await runs.createRanges(run.id, [{ loId: 0n, hiId: 10n }]);

      await runs.setRangeStatus(run.id, 1, {
        status: 'failed',
        error: 'REKEY_HSM_BUSY: try later',
      });
      const failed = await runs.getRange(run.id, 1);
      await runs.setRangeStatus(run.id, 1, { status: 'running' });
      const running = await runs.getRange(run.id, 1);

      expect(failed).toMatchObject({
        status: 'failed',
        error: 'REKEY_HSM_BUSY: try later',
      });
      expect(running).toMatchObject({ status: 'running', error: null });
    });

    it('sums progress over the ranges', async () => {
      const { tenantId, keyId } = await tenantWithKey();
      const run = await runs.createRun({
        tenantId,
        fromKeyId: keyId,
        requestedBy: 'a',
      });
      expect(await runs.progress(run.id)).toEqual({
        rowsDone: 0,
        rowsFailed: 0,
      });

      await runs.createRanges(run.id, [
        { loId: 0n, hiId: 10n },
        { loId: 10n, hiId: 20n },
        { loId: 20n, hiId: 30n },
      ]);
      await pool.query(
        `update "${schema}".rotation_ranges set rows_done = range_no * 100, rows_failed = range_no where run_id = $1`,
        [run.id],
      );

      expect(await runs.progress(run.id)).toEqual({
        rowsDone: 600,
        rowsFailed: 6,
      });
    });

    it('creates 20,000 ranges in statements below the parameter limit', async () => {
      const { tenantId, keyId } = await tenantWithKey();
      const run = await runs.createRun({
        tenantId,
        fromKeyId: keyId,
        requestedBy: 'a',
      });
      const ranges = Array.from({ length: 20_000 }, (_, i) => ({
        loId: BigInt(i * 10),
        hiId: BigInt(i * 10 + 10),
      }));

      await runs.createRanges(run.id, ranges);
      const listed = await runs.listRanges(run.id);

      expect(listed).toHaveLength(20_000);
      expect(listed[19_999]).toMatchObject({ rangeNo: 20_000, hiId: 200_000n });
    });
  });

  it('lists a run’s failures by row id', async () => {
    const { tenantId, keyId } = await tenantWithKey();
    const run = await runs.createRun({
      tenantId,
      fromKeyId: keyId,
      requestedBy: 'a',
    });
    await pool.query(
      `insert into "${schema}".rotation_failures (run_id, row_id, code, reason) values ($1, 9, 'REKEY_CIPHERTEXT_AUTH_FAILED', 'tag mismatch'), ($1, 3, 'REKEY_ENVELOPE_MALFORMED', 'short')`,
      [run.id],
    );

    expect(await runs.listFailures(run.id)).toEqual([
      { rowId: 3n, code: 'REKEY_ENVELOPE_MALFORMED', reason: 'short' },
      {
        rowId: 9n,
        code: 'REKEY_CIPHERTEXT_AUTH_FAILED',
        reason: 'tag mismatch',
      },
    ]);
    expect(await runs.listFailures(run.id, { limit: 1 })).toHaveLength(1);
  });
});
