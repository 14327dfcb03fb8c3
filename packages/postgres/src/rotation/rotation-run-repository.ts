import { RekeyError } from '@rekey/core';
import { sql, type Kysely, type Selectable } from 'kysely';

import {
  classifyPgError,
  isUniqueViolation,
  withPgErrors,
} from '../errors/pg-error-classifier.js';
import type {
  RangeStatus,
  RekeyDatabase,
  RotationRangesTable,
  RotationRunsTable,
} from '../schema/rekey-database.js';
import { toSafeNumber, toSafeNumberOrNull } from '../schema/row-values.js';
import {
  checkCount,
  checkId,
  checkRanges,
  checkText,
  runNotFound,
  stateInvalid,
} from './rotation-run-checks.js';
import type {
  RotationFailure,
  RotationRange,
  RotationRun,
} from './rotation-run-types.js';

/**
 * Ranges per INSERT statement: 5 parameters each, so a statement carries
 * 5,000 parameters, far below the protocol's limit of 65,535.
 *
 * @internal
 */
export const rangeInsertChunkRows = 1_000;

const activeRunIndex = 'rotation_runs_one_active_per_tenant';
const unfinished = ['pending', 'running'] as const;
const rangeStatuses: ReadonlySet<string> = new Set<RangeStatus>([
  'pending',
  'running',
  'done',
  'failed',
]);

/** Input of {@link RotationRunRepository.createRun}. */
export interface NewRotationRun {
  readonly tenantId: string;
  /** The tenant's current DEK, which the run re-encrypts away from. */
  readonly fromKeyId: number;
  /** Who asked, for the audit trail. */
  readonly requestedBy: string;
}

/** Options of {@link RotationRunRepository.listRuns}. */
export interface ListRunsOptions {
  /** Only this tenant's runs. */
  readonly tenantId?: string;
  /**
   * Most runs returned, newest first.
   * @defaultValue 50
   */
  readonly limit?: number;
}

/**
 * Rotation runs, their ranges with checkpoints, and their failed rows.
 * At most one run per tenant is unfinished at a time; the database
 * enforces it with a partial unique index.
 */
export class RotationRunRepository {
  readonly #db: Kysely<RekeyDatabase>;

  /** @param db - from `createDatabase`, addressing Rekey's schema */
  constructor(db: Kysely<RekeyDatabase>) {
    this.#db = db;
  }

  /**
   * Records a pending run for a tenant.
   *
   * @throws RekeyError `REKEY_ROTATION_IN_PROGRESS` (details `tenantId`,
   *   `runId`) when the tenant has a pending or running run;
   *   `REKEY_KEY_NOT_FOUND` when `fromKeyId` is not a DEK of the tenant
   */
  async createRun(input: NewRotationRun): Promise<RotationRun> {
    checkText('tenantId', input.tenantId);
    checkText('requestedBy', input.requestedBy);
    checkId('fromKeyId', input.fromKeyId);

    let row: Selectable<RotationRunsTable> | undefined;
    try {
      row = await this.#db
        .insertInto('rotation_runs')
        .columns(['tenant_id', 'from_key_id', 'requested_by'])
        .expression((eb) =>
          eb
            .selectFrom('keys')
            .select([
              eb.val(input.tenantId).as('tenant_id'),
              'id',
              eb.val(input.requestedBy).as('requested_by'),
            ])
            .where('id', '=', String(input.fromKeyId))
            .where('kind', '=', 'dek')
            .where('scope', '=', input.tenantId),
        )
        .returningAll()
        .executeTakeFirst();
    } catch (error) {
      if (!isUniqueViolation(error, activeRunIndex)) {
        throw classifyPgError(error);
      }

      throw await this.#inProgress(input.tenantId, error);
    }
    if (row === undefined) {
      throw new RekeyError(
        'REKEY_KEY_NOT_FOUND',
        `tenant ${input.tenantId} has no data-encryption key with id ${input.fromKeyId}`,
        { details: { tenantId: input.tenantId, keyId: input.fromKeyId } },
      );
    }

    return toRun(row);
  }

  /** The run with this id, if any. */
  async getRun(id: number): Promise<RotationRun | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;

    const row = await withPgErrors(() =>
      this.#db
        .selectFrom('rotation_runs')
        .selectAll()
        .where('id', '=', String(id))
        .executeTakeFirst(),
    );

    return row === undefined ? undefined : toRun(row);
  }

  /** The tenant's pending or running run, if any. */
  async findActiveRun(tenantId: string): Promise<RotationRun | undefined> {
    const row = await withPgErrors(() =>
      this.#db
        .selectFrom('rotation_runs')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('status', 'in', unfinished)
        .executeTakeFirst(),
    );

    return row === undefined ? undefined : toRun(row);
  }

  /** Runs, newest first. */
  async listRuns(options: ListRunsOptions = {}): Promise<RotationRun[]> {
    const limit = options.limit ?? 50;
    checkCount('limit', limit, 1);

    const rows = await withPgErrors(() => {
      let query = this.#db
        .selectFrom('rotation_runs')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(limit);
      if (options.tenantId !== undefined) {
        query = query.where('tenant_id', '=', options.tenantId);
      }

      return query.execute();
    });

    return rows.map(toRun);
  }

  /**
   * Moves a pending run to `running` with its new key and row count. A
   * running run with the same new key is accepted again (a retried start
   * step), keeping its first `rowsTotal` and `startedAt`.
   *
   * @throws RekeyError `REKEY_ROTATION_NOT_FOUND`,
   *   `REKEY_ROTATION_STATE_INVALID` for a finished run or another new key
   */
  async startRun(
    id: number,
    input: { readonly toKeyId: number; readonly rowsTotal: number },
  ): Promise<void> {
    checkId('toKeyId', input.toKeyId);
    checkCount('rowsTotal', input.rowsTotal, 0);

    const result = await withPgErrors(() =>
      this.#db
        .updateTable('rotation_runs')
        .set({
          status: 'running',
          to_key_id: String(input.toKeyId),
          rows_total: sql`coalesce(rows_total, ${input.rowsTotal})`,
          rows_remaining: sql`coalesce(rows_remaining, ${input.rowsTotal})`,
          started_at: sql`coalesce(started_at, now())`,
        })
        .where('id', '=', String(id))
        .where((eb) =>
          eb.or([
            eb('status', '=', 'pending'),
            eb.and([
              eb('status', '=', 'running'),
              eb('to_key_id', '=', String(input.toKeyId)),
            ]),
          ]),
        )
        .executeTakeFirst(),
    );
    if (result.numUpdatedRows > 0n) return;

    const run = await this.#existingRun(id);
    throw stateInvalid(
      run,
      `rotation ${id} is ${run.status}${run.toKeyId === null ? '' : ` towards key ${run.toKeyId}`}; it cannot start towards key ${input.toKeyId}`,
    );
  }

  /**
   * Ends a run. Finishing a run again with the status it already has does
   * nothing, so a retried final step succeeds.
   *
   * @throws RekeyError `REKEY_ROTATION_NOT_FOUND`,
   *   `REKEY_ROTATION_STATE_INVALID` for a run finished with another status
   */
  async finishRun(
    id: number,
    input: {
      readonly status: 'completed' | 'completed_with_failures' | 'failed';
      readonly rowsRemaining: number | null;
      readonly error?: string;
    },
  ): Promise<void> {
    if (input.rowsRemaining !== null) {
      checkCount('rowsRemaining', input.rowsRemaining, 0);
    }

    const result = await withPgErrors(() =>
      this.#db
        .updateTable('rotation_runs')
        .set({
          status: input.status,
          rows_remaining: input.rowsRemaining,
          error: input.error ?? null,
          finished_at: sql`now()`,
        })
        .where('id', '=', String(id))
        .where('status', 'in', unfinished)
        .executeTakeFirst(),
    );
    if (result.numUpdatedRows > 0n) return;

    const run = await this.#existingRun(id);
    if (run.status === input.status) return;

    throw stateInvalid(
      run,
      `rotation ${id} already finished as ${run.status}; it cannot finish again as ${input.status}`,
    );
  }

  /**
   * Adds to the run's count of HSM operations.
   *
   * @throws RekeyError `REKEY_ROTATION_NOT_FOUND`
   */
  async addHsmCalls(id: number, calls: number): Promise<void> {
    checkCount('calls', calls, 0);
    if (calls === 0) return;

    const result = await withPgErrors(() =>
      this.#db
        .updateTable('rotation_runs')
        .set({ hsm_calls: sql`hsm_calls + ${calls}` })
        .where('id', '=', String(id))
        .executeTakeFirst(),
    );
    if (result.numUpdatedRows === 0n) throw runNotFound(id);
  }

  /**
   * Records the run's ranges, numbered from 1. Does nothing when the run
   * already has ranges, so a retried start step keeps the first plan; two
   * concurrent calls are serialised on the run's row.
   *
   * @param runId - the run
   * @param ranges - ascending, non-overlapping `(loId, hiId]` ranges
   * @throws RekeyError `REKEY_ROTATION_NOT_FOUND`, `REKEY_INPUT_INVALID`
   *   for malformed ranges
   */
  async createRanges(
    runId: number,
    ranges: ReadonlyArray<{ readonly loId: bigint; readonly hiId: bigint }>,
  ): Promise<void> {
    checkRanges(ranges);

    await withPgErrors(() =>
      this.#db.transaction().execute(async (trx) => {
        const run = await trx
          .selectFrom('rotation_runs')
          .select('id')
          .where('id', '=', String(runId))
          .forUpdate()
          .executeTakeFirst();
        if (run === undefined) throw runNotFound(runId);

        const existing = await trx
          .selectFrom('rotation_ranges')
          .select('range_no')
          .where('run_id', '=', run.id)
          .limit(1)
          .executeTakeFirst();
        if (existing !== undefined) return;

        for (let i = 0; i < ranges.length; i += rangeInsertChunkRows) {
          const chunk = ranges.slice(i, i + rangeInsertChunkRows);
          await trx
            .insertInto('rotation_ranges')
            .values(
              chunk.map((range, j) => ({
                run_id: run.id,
                range_no: i + j + 1,
                lo_id: range.loId.toString(),
                hi_id: range.hiId.toString(),
                cursor_id: range.loId.toString(),
              })),
            )
            .execute();
        }
      }),
    );
  }

  /**
   * Appends one more range to a run, numbered after the last — for a
   * final sweep over rows written under the old key after their batch.
   *
   * @throws RekeyError `REKEY_ROTATION_NOT_FOUND`, `REKEY_INPUT_INVALID`
   */
  async addRange(
    runId: number,
    range: { readonly loId: bigint; readonly hiId: bigint },
  ): Promise<RotationRange> {
    checkRanges([range]);

    const row = await withPgErrors(() =>
      this.#db.transaction().execute(async (trx) => {
        const run = await trx
          .selectFrom('rotation_runs')
          .select('id')
          .where('id', '=', String(runId))
          .forUpdate()
          .executeTakeFirst();
        if (run === undefined) throw runNotFound(runId);

        const { last } = await trx
          .selectFrom('rotation_ranges')
          .select((eb) => eb.fn.max('range_no').as('last'))
          .where('run_id', '=', run.id)
          .executeTakeFirstOrThrow();

        return trx
          .insertInto('rotation_ranges')
          .values({
            run_id: run.id,
            range_no: (last ?? 0) + 1,
            lo_id: range.loId.toString(),
            hi_id: range.hiId.toString(),
            cursor_id: range.loId.toString(),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
      }),
    );

    return toRange(row);
  }

  /** The run's ranges in order. */
  async listRanges(runId: number): Promise<RotationRange[]> {
    const rows = await withPgErrors(() =>
      this.#db
        .selectFrom('rotation_ranges')
        .selectAll()
        .where('run_id', '=', String(runId))
        .orderBy('range_no')
        .execute(),
    );

    return rows.map(toRange);
  }

  /** One range of a run, if it exists. */
  async getRange(
    runId: number,
    rangeNo: number,
  ): Promise<RotationRange | undefined> {
    const row = await withPgErrors(() =>
      this.#db
        .selectFrom('rotation_ranges')
        .selectAll()
        .where('run_id', '=', String(runId))
        .where('range_no', '=', rangeNo)
        .executeTakeFirst(),
    );

    return row === undefined ? undefined : toRange(row);
  }

  /**
   * Sets a range's status, and its error (cleared when none is given).
   *
   * @throws RekeyError `REKEY_ROTATION_NOT_FOUND` for an unknown range,
   *   `REKEY_INPUT_INVALID` for an unknown status
   */
  async setRangeStatus(
    runId: number,
    rangeNo: number,
    input: { readonly status: RangeStatus; readonly error?: string },
  ): Promise<void> {
    if (!rangeStatuses.has(input.status)) {
      throw new RekeyError(
        'REKEY_INPUT_INVALID',
        `unknown range status ${JSON.stringify(input.status)}`,
      );
    }

    const result = await withPgErrors(() =>
      this.#db
        .updateTable('rotation_ranges')
        .set({
          status: input.status,
          error: input.error ?? null,
          updated_at: sql`now()`,
        })
        .where('run_id', '=', String(runId))
        .where('range_no', '=', rangeNo)
        .executeTakeFirst(),
    );
    if (result.numUpdatedRows > 0n) return;

    throw new RekeyError(
      'REKEY_ROTATION_NOT_FOUND',
      `rotation ${runId} has no range ${rangeNo}`,
      { details: { runId, rangeNo } },
    );
  }

  /**
   * Rows the run could not re-encrypt, by row id.
   *
   * @param runId - the run
   * @param options - `limit`, default 100
   */
  async listFailures(
    runId: number,
    options: { readonly limit?: number } = {},
  ): Promise<RotationFailure[]> {
    const limit = options.limit ?? 100;
    checkCount('limit', limit, 1);

    const rows = await withPgErrors(() =>
      this.#db
        .selectFrom('rotation_failures')
        .select(['row_id', 'code', 'reason'])
        .where('run_id', '=', String(runId))
        .orderBy('row_id')
        .limit(limit)
        .execute(),
    );

    return rows.map((row) => ({
      rowId: BigInt(row.row_id),
      code: row.code,
      reason: row.reason,
    }));
  }

  /** Rows rewritten and rows failed, summed over the run's ranges. */
  async progress(
    runId: number,
  ): Promise<{ rowsDone: number; rowsFailed: number }> {
    const row = await withPgErrors(() =>
      this.#db
        .selectFrom('rotation_ranges')
        .select([
          sql<string>`coalesce(sum(rows_done), 0)`.as('done'),
          sql<string>`coalesce(sum(rows_failed), 0)`.as('failed'),
        ])
        .where('run_id', '=', String(runId))
        .executeTakeFirstOrThrow(),
    );

    return {
      rowsDone: toSafeNumber(row.done, 'rows done'),
      rowsFailed: toSafeNumber(row.failed, 'rows failed'),
    };
  }

  async #inProgress(tenantId: string, cause: unknown): Promise<RekeyError> {
    const active = await this.findActiveRun(tenantId);

    return new RekeyError(
      'REKEY_ROTATION_IN_PROGRESS',
      active === undefined
        ? `a rotation of tenant ${tenantId} is already pending or running`
        : `rotation ${active.id} of tenant ${tenantId} is already ${active.status}; wait for it to finish`,
      {
        cause: classifyPgError(cause),
        details:
          active === undefined ? { tenantId } : { tenantId, runId: active.id },
      },
    );
  }

  async #existingRun(id: number): Promise<RotationRun> {
    const run = await this.getRun(id);
    if (run === undefined) throw runNotFound(id);

    return run;
  }
}

function toRun(row: Selectable<RotationRunsTable>): RotationRun {
  return Object.freeze({
    id: toSafeNumber(row.id, 'run id'),
    tenantId: row.tenant_id,
    fromKeyId: toSafeNumber(row.from_key_id, 'key id'),
    toKeyId: toSafeNumberOrNull(row.to_key_id, 'key id'),
    status: row.status,
    rowsTotal: toSafeNumberOrNull(row.rows_total, 'rows total'),
    rowsRemaining: toSafeNumberOrNull(row.rows_remaining, 'rows remaining'),
    hsmCalls: toSafeNumber(row.hsm_calls, 'HSM calls'),
    error: row.error,
    requestedBy: row.requested_by,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  });
}

function toRange(row: Selectable<RotationRangesTable>): RotationRange {
  return Object.freeze({
    runId: toSafeNumber(row.run_id, 'run id'),
    rangeNo: row.range_no,
    loId: BigInt(row.lo_id),
    hiId: BigInt(row.hi_id),
    cursorId: BigInt(row.cursor_id),
    rowsDone: toSafeNumber(row.rows_done, 'rows done'),
    rowsFailed: toSafeNumber(row.rows_failed, 'rows failed'),
    status: row.status,
    error: row.error,
  });
}
