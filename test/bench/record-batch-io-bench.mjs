// Throughput of the re-encryption batch path on the real PostgreSQL:
// rows/s of RecordBatchIo.reencryptBatch with a trivial transform (no
// crypto), against the same transaction sending its arrays as the text
// literals node-postgres builds from JS arrays, and against a server-side
// UPDATE that moves no data to the client. One connection, one tenant,
// batches of BATCH_SIZE rows, ROWS rows of ROW_BYTES bytes.
//
// Build first (`pnpm --filter @rekey/postgres build`), then:
//   node test/bench/record-batch-io-bench.mjs
// Environment: DATABASE_URL, ROWS (100000), ROW_BYTES (1024),
// BATCH_SIZE (5000), ROUNDS (2).

import { randomBytes } from 'node:crypto';

import {
  checkRecordTable,
  createDatabase,
  createPool,
  defaultRecordTable,
  maxRowId,
  migrateToLatest,
  minRowId,
  PgKeyStore,
  RecordBatchIo,
  RecordBatchStatements,
  RotationRunRepository,
} from '@rekey/postgres';

const databaseUrl =
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const rows = Number(process.env.ROWS ?? 100_000);
const rowBytes = Number(process.env.ROW_BYTES ?? 1024);
const batchSize = Number(process.env.BATCH_SIZE ?? 5_000);
const rounds = Number(process.env.ROUNDS ?? 2);

const schema = `rk_bench_${Date.now().toString(36)}`;
const table = `"${schema}".context_records`;
const pool = createPool({ connectionString: databaseUrl, max: 2 });

try {
  await migrateToLatest(pool, { schema });
  const db = createDatabase(pool, { schema });
  const store = new PgKeyStore(db);
  const runs = new RotationRunRepository(db);
  const io = new RecordBatchIo(pool, {
    table: defaultRecordTable(schema),
    rekeySchema: schema,
  });

  const statements = new RecordBatchStatements(
    checkRecordTable(defaultRecordTable(schema)),
    schema,
  );
  const tenantId = 'tenant-bench';
  const newKey = async () =>
    (
      await store.addActiveVersion({
        kind: 'dek',
        scope: tenantId,
        wrappedById: null,
        wrapped: { mechanism: 'aes-key-wrap-pad', bytes: randomBytes(40) },
        hsmLabel: null,
      })
    ).id;
  const keys = [await newKey(), await newKey()];

  const seedStarted = performance.now();
  const ids = await io.allocateIds(rows);
  for (let i = 0; i < rows; i += 10_000) {
    await io.insertRecords(
      tenantId,
      ids.slice(i, i + 10_000).map((id) => ({
        id,
        keyId: keys[0],
        ciphertext: randomBytes(rowBytes),
      })),
    );
  }
  await pool.query(`vacuum analyze ${table}`);
  console.log(
    `seeded ${rows} rows of ${rowBytes} B in ${seconds(seedStarted)} s; batches of ${batchSize}`,
  );

  let current = 0;
  const variants = {
    'server-side UPDATE (no transfer)': (from, to) => serverSide(from, to),
    'RecordBatchIo, binary array parameters': (from, to) =>
      viaBatchIo(io, runs, { from, to }),
    'same, arrays as JS arrays (text literals)': (from, to) =>
      naiveTextArrays(from, to),
    'read only: the batch SELECT … FOR UPDATE': () => readOnly(),
  };
  const results = {};
  for (let round = 1; round <= rounds; round++) {
    for (const [name, run] of Object.entries(variants)) {
      await pool.query(`vacuum ${table}`);
      const from = keys[current];
      const to = keys[1 - current];
      const started = performance.now();
      const moved = await run(from, to);
      const millis = performance.now() - started;
      if (name !== 'read only: the batch SELECT … FOR UPDATE') {
        current = 1 - current;
      }
      const rate = Math.round((moved / millis) * 1000);
      (results[name] ??= []).push(rate);
      console.log(
        `round ${round}  ${name.padEnd(46)} ${String(rate).padStart(7)} rows/s  (${moved} rows, ${(millis / 1000).toFixed(2)} s)`,
      );
    }
  }

  console.log('\nbest of rounds:');
  const best = Object.fromEntries(
    Object.entries(results).map(([name, rates]) => [name, Math.max(...rates)]),
  );
  const baseline = best['server-side UPDATE (no transfer)'];
  for (const [name, rate] of Object.entries(best)) {
    console.log(
      `  ${name.padEnd(46)} ${String(rate).padStart(7)} rows/s  ${((rate / baseline) * 100).toFixed(0).padStart(4)} % of server-side`,
    );
  }

  async function serverSide(from, to) {
    let moved = 0;
    for (let i = 0; i < ids.length; i += batchSize) {
      const lo = i === 0 ? minRowId : ids[i - 1];
      const hi = ids[Math.min(i + batchSize, ids.length) - 1];
      const result = await pool.query(
        `update ${table} set ciphertext = ciphertext || ''::bytea, key_id = $4 where tenant_id = $1 and id > $2 and id <= $3 and key_id = $5`,
        [tenantId, lo, hi, to, from],
      );
      moved += result.rowCount;
    }
    return moved;
  }

  async function viaBatchIo(batchIo, repository, { from, to }) {
    const run = await repository.createRun({
      tenantId,
      fromKeyId: from,
      requestedBy: 'bench',
    });
    await repository.createRanges(run.id, [{ loId: minRowId, hiId: maxRowId }]);
    const transform = (batch) => ({
      rewritten: batch.map((row) => ({
        id: row.id,
        ciphertext: row.ciphertext,
      })),
      failures: [],
    });
    let moved = 0;
    let cursor = minRowId;
    for (;;) {
      const upToId = await batchIo.nextBatchUpperBound({
        tenantId,
        afterId: cursor,
        hiId: maxRowId,
        batchSize,
      });
      if (upToId === null) break;
      const result = await batchIo.reencryptBatch({
        runId: run.id,
        rangeNo: 1,
        tenantId,
        fromKeyId: from,
        toKeyId: to,
        afterId: cursor,
        upToId,
        transform,
      });
      moved += result.rewritten;
      cursor = upToId;
    }
    await repository.finishRun(run.id, {
      status: 'completed',
      rowsRemaining: 0,
    });
    return moved;
  }

  // The same statements in the same transaction as RecordBatchIo, but with
  // the per-row arrays passed as JS arrays: node-postgres turns the Buffer
  // array into one hex text literal, which the server parses.
  async function naiveTextArrays(from, to) {
    const run = await runs.createRun({
      tenantId,
      fromKeyId: from,
      requestedBy: 'bench',
    });
    await runs.createRanges(run.id, [{ loId: minRowId, hiId: maxRowId }]);
    let moved = 0;
    let cursor = minRowId;
    const client = await pool.connect();
    try {
      for (;;) {
        const upToId = await io.nextBatchUpperBound({
          tenantId,
          afterId: cursor,
          hiId: maxRowId,
          batchSize,
        });
        if (upToId === null) break;
        const span = { tenantId, fromKeyId: from, afterId: cursor, upToId };
        await client.query('begin isolation level read committed');
        const selected = await client.query(statements.selectBatch(span));
        const rewritten = selected.rows.map(([id, ciphertext]) => ({
          id,
          ciphertext,
        }));
        await client.query(
          statements.raiseWorkMem(2 * rewritten.length * (rowBytes + 64)),
        );
        const rewrite = statements.rewrite({
          ...span,
          toKeyId: to,
          rows: rewritten,
        });
        const values = [...rewrite.values];
        values[5] = rewritten.map((row) => row.id.toString());
        values[6] = rewritten.map((row) => row.ciphertext);
        const updated = await client.query({ text: rewrite.text, values });
        await client.query(statements.countInBatch(span));
        await client.query(
          statements.advanceCheckpoint({
            runId: run.id,
            rangeNo: 1,
            afterId: cursor,
            upToId,
            rowsDone: updated.rowCount,
            rowsFailed: 0,
          }),
        );
        await client.query('commit');
        moved += updated.rowCount;
        cursor = upToId;
      }
    } finally {
      client.release();
    }
    await runs.finishRun(run.id, { status: 'completed', rowsRemaining: 0 });
    return moved;
  }

  async function readOnly() {
    let read = 0;
    let cursor = minRowId;
    const key = keys[current];
    const client = await pool.connect();
    try {
      for (;;) {
        const upToId = await io.nextBatchUpperBound({
          tenantId,
          afterId: cursor,
          hiId: maxRowId,
          batchSize,
        });
        if (upToId === null) break;
        await client.query('begin');
        const selected = await client.query(
          statements.selectBatch({
            tenantId,
            fromKeyId: key,
            afterId: cursor,
            upToId,
          }),
        );
        await client.query('rollback');
        read += selected.rows.length;
        cursor = upToId;
      }
    } finally {
      client.release();
    }
    return read;
  }
} finally {
  await pool.query(`drop schema if exists "${schema}" cascade`);
  await pool.end();
}

function seconds(started) {
  return ((performance.now() - started) / 1000).toFixed(1);
}
