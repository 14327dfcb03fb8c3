/**
 * What the rotation engine reports as it works. The engine does not log:
 * the app that hosts it turns these events into log lines and metrics.
 * Events carry ids and counts only, never key bytes or row contents.
 */
export type RotationEvent =
  | {
      readonly type: 'rotation-started';
      readonly runId: number;
      readonly tenantId: string;
      readonly fromKeyId: number;
      readonly toKeyId: number;
      readonly rowsTotal: number;
      readonly ranges: number;
    }
  | {
      readonly type: 'batch-reencrypted';
      readonly runId: number;
      readonly rangeNo: number;
      readonly rewritten: number;
      readonly failed: number;
      readonly skipped: number;
      readonly millis: number;
    }
  | {
      readonly type: 'rows-failed';
      readonly runId: number;
      readonly rangeNo: number;
      /** The first few rows of the batch that failed, by id and code. */
      readonly rows: ReadonlyArray<{
        readonly rowId: string;
        readonly code: string;
      }>;
      readonly count: number;
    }
  | {
      readonly type: 'range-finished';
      readonly runId: number;
      readonly rangeNo: number;
      readonly rewritten: number;
      readonly failed: number;
    }
  | {
      readonly type: 'sweep-started';
      readonly runId: number;
      readonly rowsUnderOldKey: number;
    }
  | {
      readonly type: 'rotation-finished';
      readonly runId: number;
      readonly tenantId: string;
      readonly status: 'completed' | 'completed_with_failures' | 'failed';
      readonly rowsRemaining: number | null;
      readonly oldKeyRetired: boolean;
    };

/** Receives {@link RotationEvent}s. */
export type RotationEventSink = (event: RotationEvent) => void;
