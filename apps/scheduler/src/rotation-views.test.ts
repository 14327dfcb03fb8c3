import { describe, expect, it } from 'vitest';

import { detailView, summaryView } from './rotation-views.js';
import type { RunRecord } from './scheduler-ports.js';

const run: RunRecord & { readonly wrapped: Buffer } = {
  id: 12,
  tenantId: 'tenant-a',
  status: 'completed_with_failures',
  fromKeyId: 3,
  toKeyId: 9,
  rowsTotal: 1000,
  rowsRemaining: 2,
  hsmCalls: 4,
  error: null,
  requestedBy: 'ops@example.test',
  createdAt: new Date('2025-01-02T03:04:05Z'),
  startedAt: new Date('2025-01-02T03:04:06Z'),
  finishedAt: null,
  // A field the API does not show.
  wrapped: Buffer.from('secret'),
};

describe('summaryView', () => {
  it('lists its fields one by one, so nothing else slips through', () => {
    const view = summaryView(run);

    expect(view).toEqual({
      id: 12,
      tenantId: 'tenant-a',
      status: 'completed_with_failures',
      requestedBy: 'ops@example.test',
      fromKeyId: 3,
      toKeyId: 9,
      hsmCalls: 4,
      error: null,
      createdAt: '2025-01-02T03:04:05.000Z',
      startedAt: '2025-01-02T03:04:06.000Z',
      finishedAt: null,
    });
  });
});

describe('detailView', () => {
  it('shows progress, ranges, the failed ranges and failures by row id', () => {
    const view = detailView({
      run,
      progress: { rowsDone: 998, rowsFailed: 2 },
      ranges: [
        {
          rangeNo: 0,
          status: 'done',
          rowsDone: 500,
          rowsFailed: 0,
          error: null,
        },
        {
          rangeNo: 1,
          status: 'failed',
          rowsDone: 498,
          rowsFailed: 2,
          error: '2 rows failed authentication',
        },
      ],
      failures: [
        {
          rowId: 9_007_199_254_740_993n,
          code: 'REKEY_CIPHERTEXT_AUTH_FAILED',
          reason: 'authentication failed',
        },
      ],
    });

    expect(view.progress).toEqual({
      rowsTotal: 1000,
      rowsDone: 998,
      rowsFailed: 2,
      rowsRemaining: 2,
    });
    expect(view.failedRanges).toEqual([1]);
    expect(view.failures).toEqual([
      {
        rowId: '9007199254740993',
        code: 'REKEY_CIPHERTEXT_AUTH_FAILED',
        reason: 'authentication failed',
      },
    ]);
    expect(JSON.stringify(view)).not.toContain('secret');
  });
});

describe('rowsRemaining', () => {
  const parts = {
    progress: { rowsDone: 300, rowsFailed: 1 },
    ranges: [],
    failures: [],
  };

  it('is estimated from the done rows while the run runs', () => {
    const view = detailView({
      ...parts,
      run: { ...run, status: 'running', rowsTotal: 1000, rowsRemaining: 1000 },
    });

    expect(view.progress.rowsRemaining).toBe(700);
  });

  it('is unknown while the run is pending', () => {
    const view = detailView({
      ...parts,
      run: { ...run, status: 'pending', rowsTotal: null, rowsRemaining: null },
    });

    expect(view.progress.rowsRemaining).toBeNull();
  });

  it('is the recorded count once the run finished', () => {
    expect(detailView({ ...parts, run }).progress.rowsRemaining).toBe(2);
  });
});
