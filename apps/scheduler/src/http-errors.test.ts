import { errorCodes, RekeyError, type ErrorCode } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import { answerFor, httpStatusOf } from './http-errors.js';

describe('httpStatusOf', () => {
  it.each([
    ['REKEY_INPUT_INVALID', 400],
    ['REKEY_TENANT_UNKNOWN', 404],
    ['REKEY_ROTATION_NOT_FOUND', 404],
    ['REKEY_KEY_NOT_FOUND', 404],
    ['REKEY_ROTATION_IN_PROGRESS', 409],
    ['REKEY_QUEUE_UNAVAILABLE', 503],
    ['REKEY_DB_UNAVAILABLE', 503],
    ['REKEY_CONFIG_INVALID', 500],
    ['REKEY_CIPHERTEXT_AUTH_FAILED', 500],
  ] as const)('answers %s with %i', (code, status) => {
    expect(httpStatusOf(code)).toBe(status);
  });

  it('gives every registry code a status', () => {
    for (const code of Object.keys(errorCodes) as ErrorCode[]) {
      expect([400, 404, 409, 500, 503]).toContain(httpStatusOf(code));
    }
  });
});

describe('answerFor', () => {
  it('answers a Rekey error with its code, message and details', () => {
    const error = new RekeyError('REKEY_ROTATION_IN_PROGRESS', 'run 4 runs', {
      details: { runId: 4 },
    });

    expect(answerFor(error)).toEqual({
      status: 409,
      body: {
        error: {
          code: 'REKEY_ROTATION_IN_PROGRESS',
          message: 'run 4 runs',
          details: { runId: 4 },
        },
      },
    });
  });

  it('answers an unexpected error with a fixed message, never its own', () => {
    const error = new Error(
      'duplicate key value violates unique constraint; password=hunter2',
    );
    const answer = answerFor(error);

    expect(answer.status).toBe(500);
    expect(answer.body.error.code).toBe('REKEY_INTERNAL');
    expect(JSON.stringify(answer.body)).not.toContain('hunter2');
    expect(JSON.stringify(answer.body)).not.toContain('at ');
  });

  it("keeps the status of fastify's own client errors", () => {
    const error = Object.assign(new Error('Unsupported Media Type'), {
      statusCode: 415,
    });

    expect(answerFor(error)).toEqual({
      status: 415,
      body: {
        error: {
          code: 'REKEY_INPUT_INVALID',
          message: 'Unsupported Media Type',
        },
      },
    });
  });
});
