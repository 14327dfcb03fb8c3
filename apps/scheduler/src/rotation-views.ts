import type {
  FailureRecord,
  RangeRecord,
  RunProgress,
  RunRecord,
  RunStatus,
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
  readonly status: RunStatus;
  readonly requestedBy: string;
  readonly fromKeyId: number;
  /** Null until the run starts. */
  readonly toKeyId: number | null;
  /** PKCS#11 key operations the run's jobs made. */
  readonly hsmCalls: number;
  readonly error: string | null;
  /** ISO 8601 times. */
  readonly createdAt: string;
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

const finishedStatuses: ReadonlySet<RunStatus> = new Set<RunStatus>([
  'completed',
  'completed_with_failures',
  'failed',
]);

/** One range of a run. */
export interface RangeView {
  readonly rangeNo: number;
  readonly status: RangeRecord['status'];
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
    requestedBy: run.requestedBy,
    fromKeyId: run.fromKeyId,
    toKeyId: run.toKeyId,
    hsmCalls: run.hsmCalls,
    error: run.error,
    createdAt: run.createdAt.toISOString(),
    startedAt: timeOrNull(run.startedAt),
    finishedAt: timeOrNull(run.finishedAt),
  };
}

/** The parts of {@link detailView}. */
export interface RunDetailParts {
  readonly run: RunRecord;
  readonly progress: RunProgress;
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
    rowsDone: range.rowsDone,
    rowsFailed: range.rowsFailed,
    error: range.error,
  }));

  const { rowsTotal } = run;
  const { rowsDone, rowsFailed } = parts.progress;

  return {
    ...summaryView(run),
    progress: {
      rowsTotal,
      rowsDone,
      rowsFailed,
      rowsRemaining: finishedStatuses.has(run.status)
        ? run.rowsRemaining
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

function timeOrNull(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}
