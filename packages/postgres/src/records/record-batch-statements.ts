import type { PgQueryConfigLike } from '../pool/pg-pool-like.js';
import { qualifiedName, quoteIdentifier } from '../schema/sql-identifiers.js';
import {
  encodeByteaArray,
  encodeInt8Array,
  encodeTextArray,
} from './binary-array-codec.js';
import type { CheckedRecordTable } from './record-table.js';
import { textResultParsers } from './result-type-parsers.js';

/** A statement ready for `client.query`. */
export interface BatchStatement extends PgQueryConfigLike {
  readonly values: readonly unknown[];
}

/** The PostgreSQL wire protocol counts bind parameters in 16 bits. */
export const maxBindParameters = 65_535;

/**
 * The SQL of the batch path for one record table, built once. Every
 * statement carries a fixed number of parameters whatever the batch size:
 * per-row values travel as binary int8[] / bytea[] / text[] arrays and are
 * joined with `unnest`, so no batch comes near the protocol's limit of
 * 65,535 parameters, and the server parses no array literal.
 *
 * @internal
 */
export class RecordBatchStatements {
  readonly #table: string;
  readonly #tenant: string;
  readonly #id: string;
  readonly #ciphertext: string;
  readonly #key: string;
  readonly #sequence: string;
  readonly #failures: string;
  readonly #ranges: string;

  /**
   * @param table - the checked record table
   * @param rekeySchema - the schema of the rotation tables
   */
  constructor(table: CheckedRecordTable, rekeySchema: string) {
    this.#table = qualifiedName(table.schema, table.table);
    this.#tenant = quoteIdentifier(table.tenantColumn, 'tenant column');
    this.#id = quoteIdentifier(table.idColumn, 'id column');
    this.#ciphertext = quoteIdentifier(table.ciphertextColumn, 'column');
    this.#key = quoteIdentifier(table.keyColumn, 'key column');
    this.#sequence = qualifiedName(table.schema, table.idSequence);
    this.#failures = qualifiedName(rekeySchema, 'rotation_failures');
    this.#ranges = qualifiedName(rekeySchema, 'rotation_ranges');
  }

  /** The id of the last of the next `batchSize` tenant rows in `(afterId, hiId]`. */
  nextUpperBound(args: {
    tenantId: string;
    afterId: bigint;
    hiId: bigint;
    batchSize: number;
  }): BatchStatement {
    return {
      text: `select max(page.id) from (select ${this.#id} as id from ${this.#table} where ${this.#tenant} = $1 and ${this.#id} > $2 and ${this.#id} <= $3 order by ${this.#id} limit $4) as page`,
      values: [args.tenantId, args.afterId, args.hiId, args.batchSize],
      rowMode: 'array',
      types: textResultParsers,
    };
  }

  /**
   * Locks and reads the batch's rows still under the old key.
   *
   * The key test is written `(key = $4) is true`, which no index can
   * serve, to keep the scan on the primary key's id range. Statistics on
   * the key column go stale during a rotation (rows move from one key to
   * the other between ANALYZE runs); a plain `key = $4` then lets the
   * planner take the (tenant, key) index, and every batch scans all of
   * the tenant's rows still under the old key.
   */
  selectBatch(args: {
    tenantId: string;
    fromKeyId: number;
    afterId: bigint;
    upToId: bigint;
  }): BatchStatement {
    return {
      text: `select ${this.#id}, ${this.#ciphertext} from ${this.#table} where ${this.#tenant} = $1 and ${this.#id} > $2 and ${this.#id} <= $3 and (${this.#key} = $4) is true order by ${this.#id} for update`,
      values: [args.tenantId, args.afterId, args.upToId, args.fromKeyId],
      rowMode: 'array',
      types: textResultParsers,
    };
  }

  /**
   * Writes new ciphertexts and the new key, only where the row is still
   * under the old key.
   *
   * The old key reaches the join as a column of a subquery that `offset 0`
   * keeps from being flattened, so `r.key = u.from_key` is a join clause
   * rather than a filter on the table. As a filter, stale statistics could
   * estimate the tenant's old-key rows at one, and the planner would then
   * rescan the unnest once per row (quadratic in the batch size). With the
   * id-range predicate the plan stays a hash join over the primary key.
   */
  rewrite(args: {
    tenantId: string;
    fromKeyId: number;
    toKeyId: number;
    afterId: bigint;
    upToId: bigint;
    rows: ReadonlyArray<{ readonly id: bigint; readonly ciphertext: Buffer }>;
  }): BatchStatement {
    const ids = encodeInt8Array(args.rows.map((row) => row.id));
    const ciphertexts = encodeByteaArray(
      args.rows.map((row) => row.ciphertext),
    );

    return {
      text: `update ${this.#table} as r set ${this.#ciphertext} = u.ciphertext, ${this.#key} = $3 from (select u.id, u.ciphertext, $2::int8 as from_key from unnest($6::int8[], $7::bytea[]) as u(id, ciphertext) offset 0) as u where r.${this.#tenant} = $1 and r.${this.#id} = u.id and r.${this.#key} = u.from_key and r.${this.#id} > $4 and r.${this.#id} <= $5`,
      values: [
        args.tenantId,
        args.fromKeyId,
        args.toKeyId,
        args.afterId,
        args.upToId,
        ids,
        ciphertexts,
      ],
    };
  }

  /**
   * Raises the transaction's `work_mem`, never lowers it, so that the
   * unnest of a batch stays in memory: at the default 4 MB, 5,000 rows of
   * 1 KiB spill to a temporary file on every batch.
   *
   * @param bytes - the memory the batch's rows need
   */
  raiseWorkMem(bytes: number): BatchStatement {
    return {
      text: "select set_config('work_mem', (greatest(pg_size_bytes(current_setting('work_mem')), $1::int8) / 1024)::text || 'kB', true)",
      values: [Math.min(2 ** 30, Math.max(0, Math.ceil(bytes)))],
    };
  }

  /**
   * Records failed rows; a row failed before has its reason replaced. The
   * statement returns how many rows are recorded for the first time.
   */
  recordFailures(args: {
    runId: number;
    failures: ReadonlyArray<{
      readonly id: bigint;
      readonly code: string;
      readonly reason: string;
    }>;
  }): BatchStatement {
    const ids = encodeInt8Array(args.failures.map((f) => f.id));
    const codes = encodeTextArray(args.failures.map((f) => cleanText(f.code)));
    const reasons = encodeTextArray(
      args.failures.map((f) => cleanText(f.reason)),
    );

    return {
      text: `with f(row_id, code, reason) as (select * from unnest($2::int8[], $3::text[], $4::text[])), seen as (update ${this.#failures} as t set code = f.code, reason = f.reason, at = now() from f where t.run_id = $1 and t.row_id = f.row_id returning t.row_id), fresh as (insert into ${this.#failures} (run_id, row_id, code, reason) select $1, f.row_id, f.code, f.reason from f where f.row_id not in (select row_id from seen) on conflict do nothing returning 1) select count(*) from fresh`,
      values: [args.runId, ids, codes, reasons],
      rowMode: 'array',
      types: textResultParsers,
    };
  }

  /** Counts the tenant's rows in `(afterId, upToId]`, under any key. */
  countInBatch(args: {
    tenantId: string;
    afterId: bigint;
    upToId: bigint;
  }): BatchStatement {
    return {
      text: `select count(*) from ${this.#table} where ${this.#tenant} = $1 and ${this.#id} > $2 and ${this.#id} <= $3`,
      values: [args.tenantId, args.afterId, args.upToId],
      rowMode: 'array',
      types: textResultParsers,
    };
  }

  /**
   * Moves the range's checkpoint forward (never back) and adds to its
   * counts. Matches nothing unless the batch lies inside the range.
   */
  advanceCheckpoint(args: {
    runId: number;
    rangeNo: number;
    afterId: bigint;
    upToId: bigint;
    rowsDone: number;
    rowsFailed: number;
  }): BatchStatement {
    return {
      text: `update ${this.#ranges} set cursor_id = greatest(cursor_id, $4::int8), rows_done = rows_done + $5, rows_failed = rows_failed + $6, updated_at = now() where run_id = $1 and range_no = $2 and lo_id <= $3::int8 and $4::int8 <= hi_id`,
      values: [
        args.runId,
        args.rangeNo,
        args.afterId,
        args.upToId,
        args.rowsDone,
        args.rowsFailed,
      ],
    };
  }

  /** Whether the range exists. */
  rangeExists(args: { runId: number; rangeNo: number }): BatchStatement {
    return {
      text: `select 1 from ${this.#ranges} where run_id = $1 and range_no = $2`,
      values: [args.runId, args.rangeNo],
    };
  }

  /** Inserts rows with known ids. */
  insertRecords(args: {
    tenantId: string;
    rows: ReadonlyArray<{
      readonly id: bigint;
      readonly keyId: number;
      readonly ciphertext: Buffer;
    }>;
  }): BatchStatement {
    const ids = encodeInt8Array(args.rows.map((row) => row.id));
    const keys = encodeInt8Array(args.rows.map((row) => BigInt(row.keyId)));
    const ciphertexts = encodeByteaArray(
      args.rows.map((row) => row.ciphertext),
    );

    return {
      text: `insert into ${this.#table} (${this.#tenant}, ${this.#id}, ${this.#key}, ${this.#ciphertext}) select $1, u.id, u.key_id, u.ciphertext from unnest($2::int8[], $3::int8[], $4::bytea[]) as u(id, key_id, ciphertext)`,
      values: [args.tenantId, ids, keys, ciphertexts],
    };
  }

  /** Draws `count` ids from the table's sequence. */
  allocateIds(count: number): BatchStatement {
    return {
      text: 'select nextval($1::regclass) from generate_series(1, $2)',
      values: [this.#sequence, count],
      rowMode: 'array',
      types: textResultParsers,
    };
  }

  /** Rows per key id for one tenant. */
  countByKey(tenantId: string): BatchStatement {
    return {
      text: `select ${this.#key}, count(*) from ${this.#table} where ${this.#tenant} = $1 group by ${this.#key}`,
      values: [tenantId],
      rowMode: 'array',
      types: textResultParsers,
    };
  }

  /** Rows of one tenant under one key. */
  countUnderKey(tenantId: string, keyId: number): BatchStatement {
    return {
      text: `select count(*) from ${this.#table} where ${this.#tenant} = $1 and ${this.#key} = $2`,
      values: [tenantId, keyId],
      rowMode: 'array',
      types: textResultParsers,
    };
  }

  /**
   * Every `rangeSize`-th tenant id in id order, in one streaming pass over
   * the primary key (the window needs no buffering: its input arrives in
   * id order).
   */
  rangeBoundaries(tenantId: string, rangeSize: number): BatchStatement {
    return {
      text: `select id from (select ${this.#id} as id, row_number() over (order by ${this.#id}) as n from ${this.#table} where ${this.#tenant} = $1) as ranked where n % $2 = 0 order by id`,
      values: [tenantId, rangeSize],
      rowMode: 'array',
      types: textResultParsers,
    };
  }

  /** The tenant's largest id, or NULL. */
  maxId(tenantId: string): BatchStatement {
    return {
      text: `select max(${this.#id}) from ${this.#table} where ${this.#tenant} = $1`,
      values: [tenantId],
      rowMode: 'array',
      types: textResultParsers,
    };
  }

  /** A keyset page of a tenant's rows, for verification. */
  scanPage(args: {
    tenantId: string;
    afterId: bigint;
    limit: number;
  }): BatchStatement {
    return {
      text: `select ${this.#id}, ${this.#key}, ${this.#ciphertext} from ${this.#table} where ${this.#tenant} = $1 and ${this.#id} > $2 order by ${this.#id} limit $3`,
      values: [args.tenantId, args.afterId, args.limit],
      rowMode: 'array',
      types: textResultParsers,
    };
  }
}

/**
 * PostgreSQL text cannot hold U+0000, and a failure reason has no use for
 * pages of text: NULs become U+FFFD and reasons are cut at 2,000
 * characters.
 */
function cleanText(value: string): string {
  return String(value).replaceAll('\u0000', '\uFFFD').slice(0, 2_000);
}
