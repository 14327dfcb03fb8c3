import type {
  Count,
  FailureRecord,
  RangeRecord,
  RunRecord,
} from './scheduler-ports.js';

/**
 * What the API shows of a rotation run. Each view lists its fields one by
 * one: a field added to the repository's row never reaches a client by
 * accident. Row ids are strings, since a bigint does not survive JSON.
 */

/** The summary of a run, as listed and as answered to a request. */
export interface RunSummaryView {
  readonly id: number;
  readonly tenantId: string;
  readonly status: string;
  readonly requestedBy: string | null;
  readonly fromKeyId: number | null;
  readonly toKeyId: number | null;
  /** PKCS#11 key operations the run's jobs made. */
  readonly hsmCalls: number;
  readonly error: string | null;
  readonly createdAt: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

/** How far a run has got. */
export interface ProgressView {
  /** Rows under the old key when the run started; null while pending. */
  readonly rowsTotal: number | null;
  /** Rows re-encrypted so far. */
  readonly rowsDone: number;
  /** Rows that failed, and stay under the old key. */
  readonly rowsFailed: number;
  /**
   * Rows still under the old key: counted afresh when the run finished;
   * while it runs, estimated as `rowsTotal - rowsDone`; null while pending.
   */
  readonly rowsRemaining: number | null;
}

const finishedStatuses = new Set([
  'completed',
  'completed_with_failures',
  'failed',
]);

/** One range of a run. */
export interface RangeView {
  readonly rangeNo: number;
  readonly status: string;
  readonly rowsDone: number;
  readonly rowsFailed: number;
  readonly error: string | null;
}

/** One row a run could not re-encrypt: its id and why, never its data. */
export interface FailureView {
  readonly rowId: string;
  readonly code: string;
  readonly reason: string;
}

/** A run in full, for `GET /v1/rotations/:id`. */
export interface RunDetailView extends RunSummaryView {
  readonly progress: ProgressView;
  readonly ranges: readonly RangeView[];
  /** The numbers of the ranges that failed. */
  readonly failedRanges: readonly number[];
  /** The first failures, up to the limit the route asked for. */
  readonly failures: readonly FailureView[];
}

/** The link to a run. */
export function runPath(id: number): string {
  return `/v1/rotations/${id}`;
}

/**
 * The summary of a run.
 *
 * @param run - as the repository returned it
 */
export function summaryView(run: RunRecord): RunSummaryView {
  return {
    id: run.id,
    tenantId: run.tenantId,
    status: run.status,
    requestedBy: run.requestedBy ?? null,
    fromKeyId: idOrNull(run.fromKeyId),
    toKeyId: idOrNull(run.toKeyId),
    hsmCalls: run.hsmCalls == null ? 0 : count(run.hsmCalls),
    error: run.error ?? null,
    createdAt: timeOrNull(run.createdAt),
    startedAt: timeOrNull(run.startedAt),
    finishedAt: timeOrNull(run.finishedAt),
  };
}

/** The parts of {@link detailView}. */
export interface RunDetailParts {
  readonly run: RunRecord;
  readonly progress: { readonly rowsDone: Count; readonly rowsFailed: Count };
  readonly ranges: readonly RangeRecord[];
  readonly failures: readonly FailureRecord[];
}

/**
 * A run with its progress, ranges and first failures.
 *
 * @param parts - what the repository returned
 */
export function detailView(parts: RunDetailParts): RunDetailView {
  const { run } = parts;
  const ranges = parts.ranges.map((range): RangeView => ({
    rangeNo: range.rangeNo,
    status: range.status,
    rowsDone: count(range.rowsDone),
    rowsFailed: count(range.rowsFailed),
    error: range.error,
  }));

  const rowsTotal = countOrNull(run.rowsTotal);
  const rowsDone = count(parts.progress.rowsDone);

  return {
    ...summaryView(run),
    progress: {
      rowsTotal,
      rowsDone,
      rowsFailed: count(parts.progress.rowsFailed),
      rowsRemaining: finishedStatuses.has(run.status)
        ? countOrNull(run.rowsRemaining)
        : rowsTotal === null
          ? null
          : Math.max(rowsTotal - rowsDone, 0),
    },
    ranges,
    failedRanges: ranges
      .filter((range) => range.status === 'failed')
      .map((range) => range.rangeNo),
    failures: parts.failures.map((failure) => ({
      rowId: String(failure.rowId),
      code: failure.code,
      reason: failure.reason,
    })),
  };
}

function count(value: Count | string): number {
  return Number(value);
}

function countOrNull(value: Count | string | null | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function idOrNull(value: number | bigint | string | null | undefined) {
  return value === null || value === undefined ? null : Number(value);
}

function timeOrNull(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;

  return value instanceof Date ? value.toISOString() : value;
}
