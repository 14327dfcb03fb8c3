import { isRekeyError } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import {
  finalizeRotationJobSchema,
  parseJobData,
  reencryptRangeJobSchema,
  rotateDekJobSchema,
} from './job-payload-schemas.js';

describe('job payload schemas', () => {
  it('accept payloads of ids only', () => {
    expect(rotateDekJobSchema.parse({ runId: 7 })).toEqual({ runId: 7 });
    expect(finalizeRotationJobSchema.parse({ runId: 7 })).toEqual({
      runId: 7,
    });
    expect(reencryptRangeJobSchema.parse({ runId: 7, rangeNo: 0 })).toEqual({
      runId: 7,
      rangeNo: 0,
    });
  });

  it.each([
    ['dek', { runId: 1, dek: 'AAAA' }],
    ['wrapped', { runId: 1, wrapped: 'AAAA' }],
    ['pin', { runId: 1, pin: '1234' }],
    ['tenantId', { runId: 1, tenantId: 'tenant-a' }],
  ])('reject a payload that carries an extra field (%s)', (_, payload) => {
    expect(rotateDekJobSchema.safeParse(payload).success).toBe(false);
    expect(finalizeRotationJobSchema.safeParse(payload).success).toBe(false);
    expect(
      reencryptRangeJobSchema.safeParse({ ...payload, rangeNo: 1 }).success,
    ).toBe(false);
  });

  it.each([
    { runId: 0 },
    { runId: -1 },
    { runId: 1.5 },
    { runId: '1' },
    {},
    null,
    'run-1',
  ])('reject a malformed run id: %j', (payload) => {
    expect(rotateDekJobSchema.safeParse(payload).success).toBe(false);
  });

  it('rejects a range number that is negative or fractional', () => {
    for (const rangeNo of [-1, 0.5, '2']) {
      expect(
        reencryptRangeJobSchema.safeParse({ runId: 1, rangeNo }).success,
      ).toBe(false);
    }
  });
});

describe('parseJobData', () => {
  it('returns the validated payload', () => {
    expect(parseJobData(rotateDekJobSchema, { runId: 3 })).toEqual({
      runId: 3,
    });
  });

  it('throws REKEY_INPUT_INVALID naming the field but not its value', () => {
    let caught: unknown;
    try {
      parseJobData(rotateDekJobSchema, { runId: 3, dek: 's3cr3t-bytes' });
    } catch (error) {
      caught = error;
    }

    expect(isRekeyError(caught, 'REKEY_INPUT_INVALID')).toBe(true);
    expect((caught as Error).message).toContain('dek');
    expect((caught as Error).message).not.toContain('s3cr3t-bytes');
  });
});
