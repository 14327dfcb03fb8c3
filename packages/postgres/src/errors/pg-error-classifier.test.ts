import { RekeyError } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import {
  classifyPgError,
  isUniqueViolation,
  sqlStateOf,
} from './pg-error-classifier.js';

/** A server error as node-postgres builds it: an Error with fields. */
function serverError(
  code: string,
  message: string,
  fields: Record<string, string> = {},
): Error {
  return Object.assign(new Error(message), { code, ...fields });
}

describe('classifyPgError', () => {
  it.each([
    ['08006', 'REKEY_DB_UNAVAILABLE'],
    ['08001', 'REKEY_DB_UNAVAILABLE'],
    ['57P01', 'REKEY_DB_UNAVAILABLE'],
    ['57P02', 'REKEY_DB_UNAVAILABLE'],
    ['57P03', 'REKEY_DB_UNAVAILABLE'],
    ['53300', 'REKEY_DB_UNAVAILABLE'],
    ['25P03', 'REKEY_DB_UNAVAILABLE'],
    ['40001', 'REKEY_DB_CONFLICT'],
    ['40P01', 'REKEY_DB_CONFLICT'],
    ['57014', 'REKEY_DB_TIMEOUT'],
    ['55P03', 'REKEY_DB_TIMEOUT'],
    ['42P01', 'REKEY_DB_SCHEMA_MISSING'],
    ['3F000', 'REKEY_DB_SCHEMA_MISSING'],
    ['23505', 'REKEY_DB_FAILED'],
    ['22P02', 'REKEY_DB_FAILED'],
    ['28P01', 'REKEY_DB_FAILED'],
    ['08P01', 'REKEY_DB_FAILED'],
    ['XX000', 'REKEY_DB_FAILED'],
  ])('maps SQLSTATE %s to %s', (state, code) => {
    const error = classifyPgError(serverError(state, 'some failure'));

    expect(error).toBeInstanceOf(RekeyError);
    expect(error.code).toBe(code);
    expect(error.details.sqlstate).toBe(state);
  });

  it('marks connection loss, conflicts and timeouts retryable, the rest not', () => {
    expect(classifyPgError(serverError('57P01', 'x')).retryable).toBe(true);
    expect(classifyPgError(serverError('40P01', 'x')).retryable).toBe(true);
    expect(classifyPgError(serverError('57014', 'x')).retryable).toBe(true);
    expect(classifyPgError(serverError('42P01', 'x')).retryable).toBe(false);
    expect(classifyPgError(serverError('23505', 'x')).retryable).toBe(false);
  });

  it('tells the operator to migrate when the tables are missing', () => {
    const error = classifyPgError(
      serverError('42P01', 'relation "rk.keys" does not exist'),
    );

    expect(error.message).toContain('rekey migrate');
    expect(error.message).toContain('relation "rk.keys" does not exist');
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE'])(
    'maps the network error %s to a retryable REKEY_DB_UNAVAILABLE',
    (systemCode) => {
      const cause = Object.assign(new Error(`connect ${systemCode}`), {
        code: systemCode,
      });

      const error = classifyPgError(cause);

      expect(error.code).toBe('REKEY_DB_UNAVAILABLE');
      expect(error.retryable).toBe(true);
      expect(error.cause).toBe(cause);
    },
  );

  it('takes a code-less driver Error for a lost connection', () => {
    const error = classifyPgError(
      new Error('Connection terminated unexpectedly'),
    );

    expect(error.code).toBe('REKEY_DB_UNAVAILABLE');
  });

  it('keeps typed errors and non-errors permanent', () => {
    expect(classifyPgError(new TypeError('bad argument')).code).toBe(
      'REKEY_DB_FAILED',
    );
    expect(classifyPgError('a string').code).toBe('REKEY_DB_FAILED');
    expect(classifyPgError(undefined).code).toBe('REKEY_DB_FAILED');
  });

  it('passes a RekeyError through unchanged', () => {
    const original = new RekeyError('REKEY_KEY_NOT_FOUND', 'no key');

    expect(classifyPgError(original)).toBe(original);
  });

  it('never copies row values: no detail, no data-exception message, no cause', () => {
    const secret = '\\x6b6579206d6174657269616c';
    const error = classifyPgError(
      serverError('23514', 'new row violates check constraint "c"', {
        detail: `Failing row contains (tenant-a, 1, ${secret}).`,
        constraint: 'c',
        table: 'context_records',
        schema: 'rk',
      }),
    );
    const dataError = classifyPgError(
      serverError('22P02', `invalid input syntax for type bigint: "${secret}"`),
    );

    for (const e of [error, dataError]) {
      expect(e.cause).toBeUndefined();
      expect(
        JSON.stringify({ message: e.message, details: e.details }),
      ).not.toContain(secret);
    }
    expect(error.details).toEqual({
      sqlstate: '23514',
      constraint: 'c',
      table: 'context_records',
      schema: 'rk',
    });
  });

  it('reads SQLSTATEs only from a five-character code', () => {
    expect(sqlStateOf(serverError('40001', 'x'))).toBe('40001');
    expect(sqlStateOf({ code: 'ECONNREFUSED' })).toBeUndefined();
    expect(sqlStateOf({ code: 40001 })).toBeUndefined();
    expect(sqlStateOf(null)).toBeUndefined();
  });

  it('recognises a unique violation of one constraint', () => {
    const error = serverError('23505', 'duplicate', { constraint: 'u1' });

    expect(isUniqueViolation(error)).toBe(true);
    expect(isUniqueViolation(error, 'u1')).toBe(true);
    expect(isUniqueViolation(error, 'u2')).toBe(false);
    expect(isUniqueViolation(serverError('23503', 'fk'))).toBe(false);
  });
});
