import { RekeyError, type ErrorCode } from '@rekey/core';

/**
 * Translates node-postgres failures into Rekey's error codes, by SQLSTATE
 * and by Node's system error codes, never by message text. The server's
 * `detail` and `where` fields are never copied: a failing-row detail holds
 * the row's values, ciphertexts included.
 */

// Five digits or capitals, at least one a digit: every SQLSTATE has one,
// and no Node system error code (EPIPE, EBUSY…) does.
const sqlStatePattern = /^(?=.*[0-9])[0-9A-Z]{5}$/;

/** Node system errors that mean the server could not be reached. */
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'ENETDOWN',
  'ENETUNREACH',
]);

/** SQLSTATEs outside class 08 that mean the session is gone or refused. */
const unavailableStates = new Set([
  '25P03', // idle_in_transaction_session_timeout ended the session
  '53300', // too_many_connections
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovering)
  '57P05', // idle_session_timeout ended the session
]);

/**
 * SQLSTATE classes whose primary message names objects (relations,
 * columns, constraints, roles) and never parameter values, so it may be
 * quoted. Data exceptions (22), raised exceptions (P0) and internal errors
 * (XX) can carry values and are never quoted.
 */
const quotableClasses = new Set([
  '08',
  '23',
  '28',
  '3D',
  '3F',
  '40',
  '42',
  '53',
  '55',
  '57',
]);

/** The structured fields of a node-postgres `DatabaseError` Rekey reads. */
interface PgErrorFields {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly constraint?: unknown;
  readonly table?: unknown;
  readonly column?: unknown;
  readonly schema?: unknown;
}

/**
 * The SQLSTATE of a server error, if `error` is one.
 *
 * @param error - anything caught
 * @returns the five-character SQLSTATE, or undefined
 */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;

  const { code } = error as PgErrorFields;
  if (typeof code !== 'string' || !sqlStatePattern.test(code)) {
    return undefined;
  }

  return code;
}

/**
 * Tells whether `error` is a unique violation (23505), optionally of one
 * constraint or unique index.
 *
 * @internal
 */
export function isUniqueViolation(
  error: unknown,
  constraint?: string,
): boolean {
  if (sqlStateOf(error) !== '23505') return false;

  return (
    constraint === undefined ||
    (error as PgErrorFields).constraint === constraint
  );
}

/**
 * Translates a node-postgres (or network) failure into a {@link RekeyError}:
 * - class 08 (except 08P01), 57P01/57P02/57P03, 53300 and the session
 *   timeouts, and Node's network errors → `REKEY_DB_UNAVAILABLE`
 *   (retryable);
 * - 40001 and 40P01 → `REKEY_DB_CONFLICT` (retryable);
 * - 57014 and 55P03 → `REKEY_DB_TIMEOUT` (retryable);
 * - 42P01 and 3F000 → `REKEY_DB_SCHEMA_MISSING`;
 * - anything else → `REKEY_DB_FAILED`.
 *
 * A RekeyError passes through unchanged. Messages never contain parameter
 * values; the SQLSTATE and the names of the constraint, table, column and
 * schema involved are in `details`.
 *
 * @param error - anything a pg call threw
 * @returns the error to throw
 */
export function classifyPgError(error: unknown): RekeyError {
  if (error instanceof RekeyError) return error;

  const state = sqlStateOf(error);
  if (state !== undefined) return fromSqlState(state, error as PgErrorFields);

  const systemCode = (error as { code?: unknown } | null)?.code;
  if (typeof systemCode === 'string' && networkCodes.has(systemCode)) {
    return new RekeyError(
      'REKEY_DB_UNAVAILABLE',
      `PostgreSQL cannot be reached (${systemCode}); retry once it is back`,
      { cause: error, details: { systemCode } },
    );
  }

  // Known approximation: node-postgres reports a connection that ended
  // mid-query ("Connection terminated unexpectedly") and a connection
  // timeout as a plain Error with no code. Without matching message text,
  // every plain, code-less Error from the driver is taken as a lost
  // connection, so a driver misuse would be retried a few times before
  // failing. Typed errors (TypeError, RangeError…) stay permanent.
  if (
    error instanceof Error &&
    error.constructor === Error &&
    !('code' in error)
  ) {
    return new RekeyError(
      'REKEY_DB_UNAVAILABLE',
      'the connection to PostgreSQL failed or was lost; retry once it is back',
      { cause: error },
    );
  }

  return new RekeyError(
    'REKEY_DB_FAILED',
    'a PostgreSQL call failed without a SQLSTATE',
    { cause: error },
  );
}

/**
 * Runs `work` and rethrows whatever it throws through
 * {@link classifyPgError}.
 *
 * @internal
 */
export async function withPgErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw classifyPgError(error);
  }
}

function fromSqlState(state: string, fields: PgErrorFields): RekeyError {
  const code = codeOf(state);
  const quoted = quotableClasses.has(state.slice(0, 2))
    ? quotedMessage(fields)
    : '';

  return new RekeyError(code, `${leadOf(code, state)}${quoted}`, {
    details: detailsOf(state, fields),
  });
}

function codeOf(state: string): ErrorCode {
  if (state === '40001' || state === '40P01') return 'REKEY_DB_CONFLICT';
  if (state === '57014' || state === '55P03') return 'REKEY_DB_TIMEOUT';
  if (state === '42P01' || state === '3F000') return 'REKEY_DB_SCHEMA_MISSING';
  // 08P01 (protocol violation) is a malformed message, such as a bind with
  // more parameters than the protocol's 16-bit count: retrying cannot help.
  if (state === '08P01') return 'REKEY_DB_FAILED';
  if (state.startsWith('08') || unavailableStates.has(state)) {
    return 'REKEY_DB_UNAVAILABLE';
  }

  return 'REKEY_DB_FAILED';
}

function leadOf(code: ErrorCode, state: string): string {
  switch (code) {
    case 'REKEY_DB_UNAVAILABLE':
      return `PostgreSQL is unavailable (SQLSTATE ${state}); retry once it is back`;
    case 'REKEY_DB_CONFLICT':
      return `PostgreSQL aborted the transaction on a ${state === '40P01' ? 'deadlock' : 'serialization failure'} (SQLSTATE ${state}); retry the whole transaction`;
    case 'REKEY_DB_TIMEOUT':
      return `PostgreSQL cancelled the statement after its ${state === '55P03' ? 'lock' : 'statement'} timeout (SQLSTATE ${state}); retry it later`;
    case 'REKEY_DB_SCHEMA_MISSING':
      return `Rekey's tables are missing (SQLSTATE ${state}); run \`rekey migrate\` first`;
    default:
      return `PostgreSQL rejected the statement (SQLSTATE ${state})`;
  }
}

function quotedMessage(fields: PgErrorFields): string {
  return typeof fields.message === 'string' && fields.message.length > 0
    ? `: ${fields.message}`
    : '';
}

function detailsOf(
  state: string,
  fields: PgErrorFields,
): Record<string, string> {
  const details: Record<string, string> = { sqlstate: state };
  for (const name of ['constraint', 'table', 'column', 'schema'] as const) {
    const value = fields[name];
    if (typeof value === 'string' && value.length > 0) details[name] = value;
  }

  return details;
}
