import { randomBytes } from 'node:crypto';

import { isRekeyError } from '@rekey/core';
import {
  createDatabase,
  createPool,
  defaultRecordTable,
  maxRowId,
  migrateToLatest,
  minRowId,
  PgKeyStore,
  RecordBatchIo,
  RotationRunRepository,
  type BatchTransform,
} from '@rekey/postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { testEnv, uniqueName } from '../support/test-env.js';

// A read that is abandoned halfway (a cancelled job, a failed decrypt)
// must still give its connection back, with no transaction left open on it.
// The batch path holds no cursor or stream: it reads a batch in one
// statement inside a transaction that always ends in COMMIT or ROLLBACK,
// and the client is released in `finally`.

const schema = uniqueName('rk');
const applicationName = `rekey-test-${schema}`;
const poolMax = 5;
let pool: pg.Pool;
let admin: pg.Pool;
let io: RecordBatchIo;
let runs: RotationRunRepository;
let tenant: {
  tenantId: string;
  fromKeyId: number;
  toKeyId: number;
  runId: number;
  lastId: bigint;
};

function batch(transform: BatchTransform) {
  return {
    runId: tenant.runId,
    rangeNo: 1,
    tenantId: tenant.tenantId,
    fromKeyId: tenant.fromKeyId,
    toKeyId: tenant.toKeyId,
    afterId: minRowId,
    upToId: tenant.lastId,
    transform,
  };
}

async function sessionsInTransaction(): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(
    "select count(*) as n from pg_stat_activity where application_name = $1 and state like 'idle in transaction%'",
    [applicationName],
  );

  return Number(rows[0]!.n);
}

beforeAll(async () => {
  admin = createPool({ connectionString: testEnv.databaseUrl, max: 2 });
  await migrateToLatest(admin, { schema });
  pool = createPool({
    connectionString: testEnv.databaseUrl,
    max: poolMax,
    applicationName,
    connectionTimeoutMillis: 2_000,
  });
  const db = createDatabase(admin, { schema });
  const store = new PgKeyStore(db);
  runs = new RotationRunRepository(db);
  io = new RecordBatchIo(pool, {
    table: defaultRecordTable(schema),
    rekeySchema: schema,
  });

  const tenantId = uniqueName('tenant');
  const keyOf = async () =>
    (
      await store.addActiveVersion({
        kind: 'dek',
        scope: tenantId,
        wrappedById: null,
        wrapped: { mechanism: 'aes-key-wrap-pad', bytes: randomBytes(40) },
        hsmLabel: null,
      })
    ).id;
  const fromKeyId = await keyOf();
  const ids = await io.allocateIds(500);
  await io.insertRecords(
    tenantId,
    ids.map((id) => ({ id, keyId: fromKeyId, ciphertext: randomBytes(256) })),
  );
  const toKeyId = await keyOf();
  const run = await runs.createRun({ tenantId, fromKeyId, requestedBy: 't' });
  await runs.createRanges(run.id, [{ loId: minRowId, hiId: maxRowId }]);
  tenant = { tenantId, fromKeyId, toKeyId, runId: run.id, lastId: ids[499]! };
});

afterAll(async () => {
  await pool.end();
  await admin.query(`drop schema if exists "${schema}" cascade`);
  await admin.end();
});

describe('connections given back after aborted batches', () => {
  it('releases every connection after 20 aborted batches on a pool of 5', async () => {
    await pool.query('select 1');
    const baseline = { total: pool.totalCount, idle: pool.idleCount };
    const aborts: BatchTransform[] = [
      () => {
        throw new Error('job cancelled');
      },
      (rows) => ({
        rewritten: [],
        failures: rows
          .slice(1)
          .map((r) => ({ id: r.id, code: 'X', reason: 'y' })),
      }),
    ];

    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        io.reencryptBatch(batch(aborts[i % aborts.length]!)),
      ),
    );

    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    const reasons = outcomes.map((o) => (o as PromiseRejectedResult).reason);
    expect(
      reasons.filter((r) => isRekeyError(r, 'REKEY_BATCH_RESULT_INVALID')),
    ).toHaveLength(10);
    expect(
      reasons.filter((r) => (r as Error).message === 'job cancelled'),
    ).toHaveLength(10);

    expect(pool.waitingCount).toBe(0);
    expect(pool.totalCount).toBeLessThanOrEqual(poolMax);
    expect(pool.idleCount).toBe(pool.totalCount);
    expect(pool.totalCount).toBeGreaterThanOrEqual(baseline.total);
    expect(await sessionsInTransaction()).toBe(0);
    expect(await runs.getRange(tenant.runId, 1)).toMatchObject({
      cursorId: minRowId,
      rowsDone: 0,
    });

    // The 21st call gets a connection at once and completes.
    const started = performance.now();
    const client = await pool.connect();
    const waitedMillis = performance.now() - started;
    client.release();
    const done = await io.reencryptBatch(
      batch((rows) => ({
        rewritten: rows.map((r) => ({ id: r.id, ciphertext: r.ciphertext })),
        failures: [],
      })),
    );

    expect(waitedMillis).toBeLessThan(100);
    expect(done.rewritten).toBe(500);
    expect(pool.idleCount).toBe(pool.totalCount);
  });

  it('closes, rather than pools, a connection killed in the middle of a batch', async () => {
    const blocker = new pg.Client({ connectionString: testEnv.databaseUrl });
    await blocker.connect();
    const ids = await io.allocateIds(3);
    await io.insertRecords(
      tenant.tenantId,
      ids.map((id) => ({
        id,
        keyId: tenant.fromKeyId,
        ciphertext: randomBytes(8),
      })),
    );
    try {
      await blocker.query('begin');
      await blocker.query(
        `select 1 from "${schema}".context_records where tenant_id = $1 and id = $2 for update`,
        [tenant.tenantId, String(ids[1])],
      );

      const pending = io
        .reencryptBatch({
          ...batch(() => ({ rewritten: [], failures: [] })),
          afterId: tenant.lastId,
          upToId: ids[2]!,
        })
        .catch((e: unknown) => e);
      let killed = 0;
      for (let i = 0; i < 200 && killed === 0; i++) {
        const { rowCount } = await admin.query(
          "select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'",
          [applicationName],
        );
        killed = rowCount ?? 0;
        if (killed === 0) await new Promise((r) => setTimeout(r, 25));
      }
      const error = await pending;

      expect(killed).toBe(1);
      expect(isRekeyError(error, 'REKEY_DB_UNAVAILABLE')).toBe(true);
      expect((error as { retryable: boolean }).retryable).toBe(true);
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }

    expect(pool.idleCount).toBe(pool.totalCount);
    expect(await sessionsInTransaction()).toBe(0);
    const { rows } = await pool.query('select 1 as ok');
    expect(rows[0].ok).toBe(1);
  });
});
