import { randomBytes } from 'node:crypto';

import { isRekeyError, type RekeyError } from '@rekey/core';
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
  type BatchRetryEvent,
  type BatchTransform,
} from '@rekey/postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { testEnv, uniqueName } from '../support/test-env.js';

// A batch aborted by PostgreSQL on a deadlock (40P01) or serialization
// failure (40001) must be retried as a whole — its reads included, since
// the rows it read may have changed — a bounded number of times with
// jitter, and end with every row under the new key and no write lost.

const schema = uniqueName('rk');
const applicationName = `rekey-test-${schema}`;
let pool: pg.Pool;
let store: PgKeyStore;
let runs: RotationRunRepository;

interface Tenant {
  readonly tenantId: string;
  readonly fromKeyId: number;
  readonly toKeyId: number;
  readonly runId: number;
  readonly ids: bigint[];
}

async function newKey(tenantId: string): Promise<number> {
  const key = await store.addActiveVersion({
    kind: 'dek',
    scope: tenantId,
    wrappedById: null,
    wrapped: { mechanism: 'aes-key-wrap-pad', bytes: randomBytes(40) },
    hsmLabel: null,
  });

  return key.id;
}

async function tenantWithRows(
  io: RecordBatchIo,
  rows: number,
): Promise<Tenant> {
  const tenantId = uniqueName('tenant');
  const fromKeyId = await newKey(tenantId);
  const ids = await io.allocateIds(rows);
  await io.insertRecords(
    tenantId,
    ids.map((id) => ({
      id,
      keyId: fromKeyId,
      ciphertext: Buffer.from(`v1:${id}`),
    })),
  );
  const toKeyId = await newKey(tenantId);
  const run = await runs.createRun({ tenantId, fromKeyId, requestedBy: 't' });
  await runs.createRanges(run.id, [{ loId: minRowId, hiId: maxRowId }]);

  return { tenantId, fromKeyId, toKeyId, runId: run.id, ids };
}

/** Re-encrypts `v1:<id>` as `v2:<id>`, recording the ids of each call. */
function countingTransform(): BatchTransform & { calls: bigint[][] } {
  const calls: bigint[][] = [];
  const transform: BatchTransform = (rows) => {
    calls.push(rows.map((r) => r.id));
    return {
      rewritten: rows.map((r) => ({
        id: r.id,
        ciphertext: Buffer.from(r.ciphertext.toString().replace('v1:', 'v2:')),
      })),
      failures: [],
    };
  };

  return Object.assign(transform, { calls });
}

function batchOf(t: Tenant, transform: BatchTransform) {
  return {
    runId: t.runId,
    rangeNo: 1,
    tenantId: t.tenantId,
    fromKeyId: t.fromKeyId,
    toKeyId: t.toKeyId,
    afterId: minRowId,
    upToId: t.ids[t.ids.length - 1]!,
    transform,
  };
}

async function rowsOf(tenantId: string) {
  const { rows } = await pool.query<{
    id: string;
    key_id: string;
    ciphertext: Buffer;
  }>(
    `select id, key_id, ciphertext from "${schema}".context_records where tenant_id = $1 order by id`,
    [tenantId],
  );

  return rows.map((r) => ({
    id: BigInt(r.id),
    keyId: Number(r.key_id),
    text: r.ciphertext.toString(),
  }));
}

/**
 * Makes the next `failures` UPDATEs of the tenant's rows fail with
 * SQLSTATE 40001, as a serialization failure would. The counter is a
 * sequence, which a rollback does not undo.
 */
async function injectSerializationFailures(
  tenantId: string,
  failures: number,
): Promise<() => Promise<void>> {
  const name = uniqueName('fail');
  await pool.query(`create sequence "${schema}"."${name}_seq"`);
  await pool.query(`
    create function "${schema}"."${name}"() returns trigger language plpgsql as $$
    begin
      if new.tenant_id = '${tenantId}' and nextval('"${schema}"."${name}_seq"') <= ${failures} then
        raise exception 'injected serialization failure' using errcode = 'serialization_failure';
      end if;
      return new;
    end $$`);
  await pool.query(
    `create trigger "${name}" before update on "${schema}".context_records for each row execute function "${schema}"."${name}"()`,
  );

  return async () => {
    await pool.query(`drop trigger "${name}" on "${schema}".context_records`);
    await pool.query(`drop function "${schema}"."${name}"()`);
    await pool.query(`drop sequence "${schema}"."${name}_seq"`);
  };
}

/** Waits until a session of this test's pool is waiting on a row lock. */
async function waitForLockWait(): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const { rows } = await pool.query(
      "select 1 from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'",
      [applicationName],
    );
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }

  throw new Error('the batch never waited on a row lock');
}

beforeAll(async () => {
  pool = createPool({
    connectionString: testEnv.databaseUrl,
    max: 4,
    applicationName,
  });
  await migrateToLatest(pool, { schema });
  const db = createDatabase(pool, { schema });
  store = new PgKeyStore(db);
  runs = new RotationRunRepository(db);
});

afterAll(async () => {
  await pool.query(`drop schema if exists "${schema}" cascade`);
  await pool.end();
});

describe('serialization failures and deadlocks', () => {
  it('retries the whole batch after a real deadlock with an application transaction', async () => {
    const events: BatchRetryEvent[] = [];
    const io = new RecordBatchIo(pool, {
      table: defaultRecordTable(schema),
      rekeySchema: schema,
      onRetry: (event) => events.push(event),
    });
    const t = await tenantWithRows(io, 40);
    const [low, high] = [t.ids[3]!, t.ids[36]!];
    const transform = countingTransform();
    const app = new pg.Client({ connectionString: testEnv.databaseUrl });
    await app.connect();
    try {
      // The application takes the high row first. Its own deadlock check
      // waits 30 s, so the batch's (1 s by default) is the one that fires
      // and the batch is the victim.
      await app.query('begin');
      await app.query("set local deadlock_timeout = '30s'");
      await app.query(
        `update "${schema}".context_records set ciphertext = 'app:high', key_id = $2 where tenant_id = $1 and id = $3`,
        [t.tenantId, t.toKeyId, String(high)],
      );

      // The batch locks rows in id order: the low row, then waits on the
      // high one. The application then wants the low row: a deadlock.
      const batch = io.reencryptBatch(batchOf(t, transform));
      await waitForLockWait();
      const appWrite = app.query(
        `update "${schema}".context_records set ciphertext = 'app:low', key_id = $2 where tenant_id = $1 and id = $3`,
        [t.tenantId, t.toKeyId, String(low)],
      );
      await appWrite;
      await app.query('commit');
      const result = await batch;

      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        attempt: 1,
        maxAttempts: 5,
        code: 'REKEY_DB_CONFLICT',
        sqlstate: '40P01',
        runId: t.runId,
        rangeNo: 1,
      });
      // Only the retry reached the transform, and it read afresh: the two
      // rows the application moved to the new key dropped out.
      expect(transform.calls).toHaveLength(1);
      expect(transform.calls[0]).not.toContain(low);
      expect(transform.calls[0]).not.toContain(high);
      expect(result).toEqual({ rewritten: 38, failed: 0, skipped: 2 });

      const rows = await rowsOf(t.tenantId);
      expect(rows.every((r) => r.keyId === t.toKeyId)).toBe(true);
      for (const row of rows) {
        const expected =
          row.id === low
            ? 'app:low'
            : row.id === high
              ? 'app:high'
              : `v2:${row.id}`;
        expect(row.text).toBe(expected);
      }
      expect(await runs.getRange(t.runId, 1)).toMatchObject({
        cursorId: t.ids[39],
        rowsDone: 38,
      });
    } finally {
      await app.end();
    }
  });

  it('retries a batch aborted by serialization failures, reads included, and ends correct', async () => {
    const events: BatchRetryEvent[] = [];
    const io = new RecordBatchIo(pool, {
      table: defaultRecordTable(schema),
      rekeySchema: schema,
      retryDelayMillis: 5,
      onRetry: (event) => events.push(event),
    });
    const t = await tenantWithRows(io, 25);
    const restore = await injectSerializationFailures(t.tenantId, 2);
    const transform = countingTransform();

    try {
      const result = await io.reencryptBatch(batchOf(t, transform));

      expect(result).toEqual({ rewritten: 25, failed: 0, skipped: 0 });
    } finally {
      await restore();
    }

    // Three attempts, each of which read the rows again.
    expect(transform.calls).toHaveLength(3);
    for (const call of transform.calls) expect(call).toEqual(t.ids);
    expect(events.map((e) => [e.attempt, e.sqlstate])).toEqual([
      [1, '40001'],
      [2, '40001'],
    ]);
    for (const event of events) {
      expect(event.delayMillis).toBeGreaterThanOrEqual(0);
      expect(JSON.stringify(event)).not.toMatch(/v1:|v2:/);
    }
    const rows = await rowsOf(t.tenantId);
    expect(rows.map((r) => r.text)).toEqual(t.ids.map((id) => `v2:${id}`));
    expect(rows.every((r) => r.keyId === t.toKeyId)).toBe(true);
    expect((await runs.getRange(t.runId, 1))?.rowsDone).toBe(25);
  });

  it('gives up after maxAttempts with a retryable REKEY_DB_CONFLICT, leaving everything as it was', async () => {
    const io = new RecordBatchIo(pool, {
      table: defaultRecordTable(schema),
      rekeySchema: schema,
      maxAttempts: 3,
      retryDelayMillis: 5,
    });
    const t = await tenantWithRows(io, 10);
    const restore = await injectSerializationFailures(t.tenantId, 1_000);
    const transform = countingTransform();

    let thrown: unknown;
    try {
      thrown = await io
        .reencryptBatch(batchOf(t, transform))
        .catch((e: unknown) => e);
    } finally {
      await restore();
    }

    expect(isRekeyError(thrown, 'REKEY_DB_CONFLICT')).toBe(true);
    const error = thrown as RekeyError;
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ attempts: 3, sqlstate: '40001' });
    expect(transform.calls).toHaveLength(3);
    const rows = await rowsOf(t.tenantId);
    expect(rows.map((r) => r.text)).toEqual(t.ids.map((id) => `v1:${id}`));
    expect(await runs.getRange(t.runId, 1)).toMatchObject({
      cursorId: minRowId,
      rowsDone: 0,
    });

    // Once the conflicts stop, the same batch succeeds.
    expect((await io.reencryptBatch(batchOf(t, transform))).rewritten).toBe(10);
  });
});
