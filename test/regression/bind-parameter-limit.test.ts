import { randomBytes } from 'node:crypto';

import {
  checkRecordTable,
  createPool,
  defaultRecordTable,
  maxBindParameters,
  maxRowId,
  migrateToLatest,
  minRowId,
  PgKeyStore,
  RecordBatchIo,
  RecordBatchStatements,
  RotationRunRepository,
  type PgPoolLike,
  type PgQueryConfigLike,
  type RekeyDatabase,
} from '@rekey/postgres';
import { Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { testEnv, uniqueName } from '../support/test-env.js';

// The wire protocol counts bind parameters in 16 bits, so a multi-row
// VALUES statement with more than 65,535 placeholders breaks. The batch path
// sends per-row values as arrays joined with unnest, so its statements
// carry a fixed handful of parameters at any batch size; kysely inserts are
// chunked.

const largestBatch = 20_000;
const schema = uniqueName('rk');
let pool: pg.Pool;

/** The highest `$n` placeholder in a statement's text. */
function highestPlaceholder(text: string): number {
  return Math.max(
    0,
    ...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])),
  );
}

/** A pool that records the parameter count of every statement it runs. */
function recordingPool(inner: pg.Pool, counts: number[]): PgPoolLike {
  const record = (
    query: string | PgQueryConfigLike,
    values?: readonly unknown[],
  ) => {
    const params =
      typeof query === 'string' ? (values ?? []) : (query.values ?? []);
    const text = typeof query === 'string' ? query : query.text;
    counts.push(Math.max(params.length, highestPlaceholder(text)));
  };

  return {
    async connect() {
      const client = await inner.connect();
      return {
        query: ((
          query: string | PgQueryConfigLike,
          values?: readonly unknown[],
        ) => {
          record(query, values);
          return client.query(query as string, values as unknown[]);
        }) as PgPoolLike['query'],
        release: (destroy?: Error | boolean) => client.release(destroy),
      };
    },
    query: ((
      query: string | PgQueryConfigLike,
      values?: readonly unknown[],
    ) => {
      record(query, values);
      return inner.query(query as string, values as unknown[]);
    }) as PgPoolLike['query'],
    end: () => inner.end(),
  };
}

beforeAll(async () => {
  pool = createPool({ connectionString: testEnv.databaseUrl, max: 4 });
  await migrateToLatest(pool, { schema });
});

afterAll(async () => {
  await pool.query(`drop schema if exists "${schema}" cascade`);
  await pool.end();
});

describe('bind parameter limit', () => {
  it('builds batch statements with a fixed parameter count at the largest batch size', () => {
    const statements = new RecordBatchStatements(
      checkRecordTable(defaultRecordTable(schema)),
      schema,
    );
    const rows = Array.from({ length: largestBatch }, (_, i) => ({
      id: BigInt(i + 1),
      keyId: 1,
      ciphertext: randomBytes(1024),
    }));

    const built = [
      statements.rewrite({
        tenantId: 'tenant-a',
        fromKeyId: 1,
        toKeyId: 2,
        afterId: 0n,
        upToId: BigInt(largestBatch),
        rows,
      }),
      statements.insertRecords({ tenantId: 'tenant-a', rows }),
      statements.recordFailures({
        runId: 1,
        failures: rows.map((r) => ({
          id: r.id,
          code: 'REKEY_CIPHERTEXT_AUTH_FAILED',
          reason: 'failed authentication',
        })),
      }),
      statements.selectBatch({
        tenantId: 'tenant-a',
        fromKeyId: 1,
        afterId: 0n,
        upToId: BigInt(largestBatch),
      }),
    ];

    for (const statement of built) {
      expect(statement.values.length).toBeLessThanOrEqual(7);
      expect(highestPlaceholder(statement.text)).toBe(statement.values.length);
      expect(statement.values.length).toBeLessThan(maxBindParameters);
    }
  });

  it(`re-encrypts a ${largestBatch.toLocaleString('en')}-row batch, no statement above 65,535 parameters`, async () => {
    const counts: number[] = [];
    const io = new RecordBatchIo(recordingPool(pool, counts), {
      table: defaultRecordTable(schema),
      rekeySchema: schema,
    });
    const kyselyCounts: number[] = [];
    const db = new Kysely<RekeyDatabase>({
      dialect: new PostgresDialect({ pool }),
      log: (event) => {
        kyselyCounts.push(event.query.parameters.length);
      },
    }).withSchema(schema);
    const store = new PgKeyStore(db);
    const runs = new RotationRunRepository(db);
    const tenantId = uniqueName('tenant');
    const from = await store.addActiveVersion({
      kind: 'dek',
      scope: tenantId,
      wrappedById: null,
      wrapped: { mechanism: 'aes-key-wrap-pad', bytes: randomBytes(40) },
      hsmLabel: null,
    });
    const ids = await io.allocateIds(largestBatch);
    await io.insertRecords(
      tenantId,
      ids.map((id) => ({ id, keyId: from.id, ciphertext: randomBytes(1024) })),
    );
    const to = await store.addActiveVersion({
      kind: 'dek',
      scope: tenantId,
      wrappedById: null,
      wrapped: { mechanism: 'aes-key-wrap-pad', bytes: randomBytes(40) },
      hsmLabel: null,
    });
    const run = await runs.createRun({
      tenantId,
      fromKeyId: from.id,
      requestedBy: 'test',
    });
    // One range per row: 20,000 ranges in kysely INSERTs.
    const ranges = await io.planRanges(tenantId, { rangeSize: 1 });
    await runs.createRanges(run.id, ranges);
    const sweep = await runs.addRange(run.id, {
      loId: minRowId,
      hiId: maxRowId,
    });

    const upToId = await io.nextBatchUpperBound({
      tenantId,
      afterId: minRowId,
      hiId: maxRowId,
      batchSize: largestBatch,
    });
    const result = await io.reencryptBatch({
      runId: run.id,
      rangeNo: sweep.rangeNo,
      tenantId,
      fromKeyId: from.id,
      toKeyId: to.id,
      afterId: minRowId,
      upToId: upToId!,
      transform: (rows) => ({
        rewritten: rows.map((r) => ({ id: r.id, ciphertext: r.ciphertext })),
        failures: [],
      }),
    });

    expect(ranges).toHaveLength(largestBatch);
    expect(result).toEqual({ rewritten: largestBatch, failed: 0, skipped: 0 });
    expect(await io.countRowsUnderKey(tenantId, to.id)).toBe(largestBatch);
    expect(Math.max(...counts)).toBeLessThanOrEqual(7);
    expect(Math.max(...kyselyCounts)).toBeLessThanOrEqual(maxBindParameters);
    expect(kyselyCounts.length).toBeGreaterThan(0);
  });
});
