import { RekeyError } from '@rekey/core';

import {
  classifyPgError,
  withPgErrors,
} from '../errors/pg-error-classifier.js';
import type { PgClientLike, PgPoolLike } from '../pool/pg-pool-like.js';
import { assertIdentifier } from '../schema/sql-identifiers.js';
import {
  runBatchTransaction,
  type BatchRetryEvent,
  type RetryPolicy,
} from './batch-transaction.js';
import {
  transformBatch,
  workMemBytes,
  type BatchRow,
  type BatchTransform,
} from './batch-transform.js';
import { RecordBatchStatements } from './record-batch-statements.js';
import { checkRecordTable, type RecordTable } from './record-table.js';

/** The smallest bigint: the exclusive lower bound of the first range. */
export const minRowId = -(2n ** 63n);

/** The largest bigint: the upper bound of the last range. */
export const maxRowId = 2n ** 63n - 1n;

/** Rows per INSERT of {@link RecordBatchIo.insertRecords}. */
const insertChunkRows = 10_000;

/** The outcome of one {@link RecordBatchIo.reencryptBatch}. */
export interface BatchResult {
  /** Rows written under the new key. */
  readonly rewritten: number;
  /** Rows the transform reported as failed, left under the old key. */
  readonly failed: number;
  /** Rows of the batch's id span that were not under the old key. */
  readonly skipped: number;
}

/** Arguments of {@link RecordBatchIo.reencryptBatch}. */
export interface ReencryptBatchArgs {
  readonly runId: number;
  readonly rangeNo: number;
  readonly tenantId: string;
  readonly fromKeyId: number;
  readonly toKeyId: number;
  /** The range's checkpoint: ids greater than this. */
  readonly afterId: bigint;
  /** Ids up to and including this, from {@link RecordBatchIo.nextBatchUpperBound}. */
  readonly upToId: bigint;
  readonly transform: BatchTransform;
}

/** Options of a {@link RecordBatchIo}. */
export interface RecordBatchIoOptions {
  /** The table of encrypted rows. */
  readonly table: RecordTable;
  /** The schema of Rekey's own tables (rotation ranges and failures). */
  readonly rekeySchema: string;
  /**
   * Attempts of one batch transaction in all, when PostgreSQL aborts it on
   * a serialization failure (40001) or deadlock (40P01).
   * @defaultValue 5
   */
  readonly maxAttempts?: number;
  /**
   * The first wait before a retry; it doubles with each attempt, and the
   * actual wait is between half of it and all of it.
   * @defaultValue 25
   */
  readonly retryDelayMillis?: number;
  /**
   * The longest wait before a retry.
   * @defaultValue 1_000
   */
  readonly maxRetryDelayMillis?: number;
  /** Told of each retry, without row data. */
  readonly onRetry?: (event: BatchRetryEvent) => void;
}

/**
 * The hot path of re-encryption: reads and rewrites one tenant's rows of a
 * record table in batches, each batch one transaction together with its
 * checkpoint. Statements go through node-postgres directly; per-row values
 * travel as binary arrays, so a batch costs a handful of statements with a
 * fixed number of parameters whatever its size.
 */
export class RecordBatchIo {
  readonly #pool: PgPoolLike;
  readonly #statements: RecordBatchStatements;
  readonly #retry: RetryPolicy;

  /**
   * @param pool - a `pg.Pool` from `createPool`; another pool must listen
   *   for 'error' on its checked-out clients, or a connection lost in the
   *   middle of a batch ends the process
   * @param options - the table, Rekey's schema and the retry policy
   * @throws RekeyError `REKEY_CONFIG_INVALID` for a malformed name or limit
   */
  constructor(pool: PgPoolLike, options: RecordBatchIoOptions) {
    const table = checkRecordTable(options.table);
    const rekeySchema = assertIdentifier(options.rekeySchema, 'Rekey schema');

    this.#pool = pool;
    this.#statements = new RecordBatchStatements(table, rekeySchema);
    this.#retry = Object.freeze({
      maxAttempts: configCount('maxAttempts', options.maxAttempts ?? 5, 1),
      retryDelayMillis: configCount(
        'retryDelayMillis',
        options.retryDelayMillis ?? 25,
        0,
      ),
      maxRetryDelayMillis: configCount(
        'maxRetryDelayMillis',
        options.maxRetryDelayMillis ?? 1_000,
        0,
      ),
      onRetry: options.onRetry ?? (() => undefined),
    });
  }

  /**
   * The id of the `batchSize`-th tenant row with `afterId < id <= hiId`,
   * or of the last such row when fewer remain; null when none does. Rows
   * count whatever their key, so consecutive batches `(afterId, bound]`
   * tile the range and no row is skipped.
   *
   * @throws RekeyError with a database code
   */
  async nextBatchUpperBound(args: {
    readonly tenantId: string;
    readonly afterId: bigint;
    readonly hiId: bigint;
    readonly batchSize: number;
  }): Promise<bigint | null> {
    checkCount('batchSize', args.batchSize, 1);
    if (args.afterId >= args.hiId) return null;

    const result = await withPgErrors(() =>
      this.#pool.query<[bigint | null]>(this.#statements.nextUpperBound(args)),
    );

    return result.rows[0]?.[0] ?? null;
  }

  /**
   * Re-encrypts the tenant's rows in `(afterId, upToId]` that are still
   * under `fromKeyId`, in one transaction:
   * 1. reads them in id order with `FOR UPDATE`, so application writes to
   *    them wait, and rows an application already moved off the old key
   *    drop out;
   * 2. calls `transform`;
   * 3. writes the new ciphertexts and `toKeyId` only where a row is still
   *    under `fromKeyId`, so a second worker on the same range never
   *    rewrites a row twice;
   * 4. records the failed rows in `rotation_failures`;
   * 5. moves the range's checkpoint to `upToId` (never back) and adds the
   *    rows actually rewritten and the rows failed for the first time in
   *    the run to its counts;
   * then commits. If anything fails — the transform included — nothing
   * of it remains. Serialization failures and deadlocks retry the whole
   * transaction (see {@link RecordBatchIoOptions.maxAttempts}).
   *
   * @returns rows rewritten, failed, and skipped (not under the old key)
   * @throws RekeyError `REKEY_DB_CONFLICT` (retryable) after the last
   *   attempt; `REKEY_BATCH_RESULT_INVALID` when the transform does not
   *   account for every row exactly once; `REKEY_ROTATION_NOT_FOUND` for
   *   an unknown range; `REKEY_INPUT_INVALID` for a batch outside its
   *   range; whatever the transform throws, as it is
   */
  async reencryptBatch(args: ReencryptBatchArgs): Promise<BatchResult> {
    checkBatch(args);

    return runBatchTransaction(
      this.#pool,
      { ...this.#retry, runId: args.runId, rangeNo: args.rangeNo },
      (client) => this.#reencrypt(client, args),
    );
  }

  /**
   * Rows per key id for one tenant.
   *
   * @throws RekeyError with a database code
   */
  async countRowsByKey(tenantId: string): Promise<Map<number, number>> {
    const result = await withPgErrors(() =>
      this.#pool.query<[number | bigint, bigint]>(
        this.#statements.countByKey(tenantId),
      ),
    );

    return new Map(
      result.rows.map(([key, rows]) => [Number(key), Number(rows)]),
    );
  }

  /**
   * The tenant's rows under one key, counted afresh.
   *
   * @throws RekeyError with a database code
   */
  async countRowsUnderKey(tenantId: string, keyId: number): Promise<number> {
    const result = await withPgErrors(() =>
      this.#pool.query<[bigint]>(
        this.#statements.countUnderKey(tenantId, keyId),
      ),
    );

    return Number(result.rows[0]?.[0] ?? 0n);
  }

  /**
   * Splits the tenant's ids into contiguous ranges `(loId, hiId]` of
   * `rangeSize` rows each (the last may hold fewer). The first range starts
   * at the smallest bigint and the last ends at the largest, so rows
   * inserted later with any id also fall in some range. A tenant without
   * rows gets one range.
   *
   * @throws RekeyError with a database code
   */
  async planRanges(
    tenantId: string,
    options: { readonly rangeSize: number },
  ): Promise<Array<{ loId: bigint; hiId: bigint }>> {
    checkCount('rangeSize', options.rangeSize, 1);

    const [boundaries, max] = await withPgErrors(() =>
      Promise.all([
        this.#pool.query<[bigint]>(
          this.#statements.rangeBoundaries(tenantId, options.rangeSize),
        ),
        this.#pool.query<[bigint | null]>(this.#statements.maxId(tenantId)),
      ]),
    );
    const maxId = max.rows[0]?.[0] ?? null;

    const ranges: Array<{ loId: bigint; hiId: bigint }> = [];
    let loId = minRowId;
    for (const [hiId] of boundaries.rows) {
      // The boundary at the tenant's last row would leave an empty final
      // range; that row goes to the open-ended last range instead.
      if (maxId === null || hiId >= maxId) break;
      ranges.push({ loId, hiId });
      loId = hiId;
    }
    ranges.push({ loId, hiId: maxRowId });

    return ranges;
  }

  /**
   * Inserts rows with known ids — for seeding and tests — in one
   * transaction, 10,000 rows per statement.
   *
   * @throws RekeyError with a database code, `REKEY_INPUT_INVALID` for a
   *   malformed row
   */
  async insertRecords(
    tenantId: string,
    rows: ReadonlyArray<{
      readonly id: bigint;
      readonly keyId: number;
      readonly ciphertext: Buffer;
    }>,
  ): Promise<void> {
    for (const row of rows) checkRecord(row);
    if (rows.length === 0) return;

    await this.#inTransaction(async (client) => {
      for (let i = 0; i < rows.length; i += insertChunkRows) {
        await client.query(
          this.#statements.insertRecords({
            tenantId,
            rows: rows.slice(i, i + insertChunkRows),
          }),
        );
      }
    });
  }

  /**
   * Draws ids from the record table's sequence. The record's AAD binds its
   * id, so the id must be known before the row is encrypted.
   *
   * @param count - how many, at most 1,000,000
   * @throws RekeyError with a database code
   */
  async allocateIds(count: number): Promise<bigint[]> {
    checkCount('count', count, 0);
    if (count > 1_000_000) {
      throw new RekeyError(
        'REKEY_INPUT_INVALID',
        `at most 1,000,000 ids per call, asked for ${count}`,
      );
    }
    if (count === 0) return [];

    const result = await withPgErrors(() =>
      this.#pool.query<[bigint]>(this.#statements.allocateIds(count)),
    );

    return result.rows.map(([id]) => id);
  }

  /**
   * A keyset page of the tenant's rows with `id > afterId`, in id order,
   * with their keys — for `verify`. Pass the last id of a page as the next
   * `afterId`; an empty page ends the scan. No cursor stays open between
   * pages.
   *
   * @throws RekeyError with a database code
   */
  async scanRecords(args: {
    readonly tenantId: string;
    readonly afterId: bigint;
    readonly limit: number;
  }): Promise<Array<{ id: bigint; keyId: number; ciphertext: Buffer }>> {
    checkCount('limit', args.limit, 1);

    const result = await withPgErrors(() =>
      this.#pool.query<[bigint, number | bigint, Buffer]>(
        this.#statements.scanPage(args),
      ),
    );

    return result.rows.map(([id, keyId, ciphertext]) => ({
      id,
      keyId: Number(keyId),
      ciphertext,
    }));
  }

  async #reencrypt(
    client: PgClientLike,
    args: ReencryptBatchArgs,
  ): Promise<BatchResult> {
    const selected = await client.query<[bigint, Buffer]>(
      this.#statements.selectBatch(args),
    );
    const rows: BatchRow[] = selected.rows.map(([id, ciphertext]) => ({
      id,
      ciphertext,
    }));

    const { rewritten, failures } = transformBatch(args.transform, rows);

    let updated = 0;
    if (rewritten.length > 0) {
      await client.query(
        this.#statements.raiseWorkMem(workMemBytes(rewritten)),
      );
      const result = await client.query(
        this.#statements.rewrite({ ...args, rows: rewritten }),
      );
      updated = result.rowCount ?? 0;
    }

    let firstFailures = 0;
    if (failures.length > 0) {
      const recorded = await client.query<[bigint]>(
        this.#statements.recordFailures({ runId: args.runId, failures }),
      );
      firstFailures = Number(recorded.rows[0]?.[0] ?? 0n);
    }

    const counted = await client.query<[bigint]>(
      this.#statements.countInBatch(args),
    );
    const inSpan = Number(counted.rows[0]?.[0] ?? 0n);

    const advanced = await client.query(
      this.#statements.advanceCheckpoint({
        ...args,
        rowsDone: updated,
        rowsFailed: firstFailures,
      }),
    );
    if (advanced.rowCount !== 1) throw await this.#outsideRange(client, args);

    return {
      rewritten: updated,
      failed: failures.length,
      skipped: Math.max(0, inSpan - updated - failures.length),
    };
  }

  async #outsideRange(
    client: PgClientLike,
    args: ReencryptBatchArgs,
  ): Promise<RekeyError> {
    const range = await client.query(this.#statements.rangeExists(args));
    if (range.rows.length === 0) {
      return new RekeyError(
        'REKEY_ROTATION_NOT_FOUND',
        `rotation ${args.runId} has no range ${args.rangeNo}`,
        { details: { runId: args.runId, rangeNo: args.rangeNo } },
      );
    }

    return new RekeyError(
      'REKEY_INPUT_INVALID',
      `the batch (${args.afterId}, ${args.upToId}] is not inside range ${args.rangeNo} of rotation ${args.runId}`,
      { details: { runId: args.runId, rangeNo: args.rangeNo } },
    );
  }

  async #inTransaction(
    work: (client: PgClientLike) => Promise<void>,
  ): Promise<void> {
    let client: PgClientLike;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw classifyPgError(error);
    }

    let broken = false;
    try {
      await client.query('begin');
      await work(client);
      await client.query('commit');
    } catch (error) {
      broken = await client.query('rollback').then(
        () => false,
        () => true,
      );
      throw classifyPgError(error);
    } finally {
      client.release(broken);
    }
  }
}

function checkBatch(args: ReencryptBatchArgs): void {
  checkCount('runId', args.runId, 1);
  checkCount('rangeNo', args.rangeNo, 0);
  checkCount('fromKeyId', args.fromKeyId, 1);
  checkCount('toKeyId', args.toKeyId, 1);
  if (typeof args.transform !== 'function') {
    throw new RekeyError('REKEY_INPUT_INVALID', 'a batch needs a transform');
  }
  if (args.fromKeyId === args.toKeyId) {
    throw new RekeyError(
      'REKEY_INPUT_INVALID',
      `a batch cannot re-encrypt from key ${args.fromKeyId} to itself`,
    );
  }
  if (
    typeof args.afterId !== 'bigint' ||
    typeof args.upToId !== 'bigint' ||
    args.afterId >= args.upToId
  ) {
    throw new RekeyError(
      'REKEY_INPUT_INVALID',
      `a batch needs bigint bounds with afterId < upToId, got (${String(args.afterId)}, ${String(args.upToId)}]`,
    );
  }
}

function checkRecord(row: {
  readonly id: bigint;
  readonly keyId: number;
  readonly ciphertext: Buffer;
}): void {
  if (
    typeof row.id === 'bigint' &&
    Number.isSafeInteger(row.keyId) &&
    Buffer.isBuffer(row.ciphertext)
  ) {
    return;
  }

  throw new RekeyError(
    'REKEY_INPUT_INVALID',
    'a record needs a bigint id, an integer key id and a ciphertext buffer',
  );
}

function checkCount(name: string, value: number, min: number): void {
  if (Number.isSafeInteger(value) && value >= min) return;

  throw new RekeyError(
    'REKEY_INPUT_INVALID',
    `${name} must be an integer of at least ${min}, got ${value}`,
  );
}

function configCount(name: string, value: number, min: number): number {
  if (Number.isSafeInteger(value) && value >= min) return value;

  throw new RekeyError(
    'REKEY_CONFIG_INVALID',
    `${name} must be an integer of at least ${min}, got ${value}`,
  );
}
