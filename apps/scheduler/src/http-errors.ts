import { isRekeyError, type ErrorCode } from '@rekey/core';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
} from 'fastify';

/**
 * How the API answers errors: one handler for every route, one status per
 * error code, and one body shape, `{ error: { code, message } }`. The
 * message is the RekeyError's own, which its author wrote for the caller
 * and kept free of secrets; any other error is answered with a fixed
 * message, so no stack trace, SQL or driver text ever reaches a client.
 */

/** The HTTP status of each code that is not a server fault. */
const statusOfCode: Partial<Record<ErrorCode, number>> = {
  REKEY_INPUT_INVALID: 400,
  REKEY_TENANT_UNKNOWN: 404,
  REKEY_ROTATION_NOT_FOUND: 404,
  REKEY_KEY_NOT_FOUND: 404,
  REKEY_ROTATION_IN_PROGRESS: 409,
  REKEY_KEY_RETIREMENT_BLOCKED: 409,
  REKEY_QUEUE_UNAVAILABLE: 503,
  REKEY_DB_UNAVAILABLE: 503,
  REKEY_DB_TIMEOUT: 503,
};

/** Seconds a client should wait before retrying after a 503. */
export const retryAfterSeconds = 5;

/**
 * The HTTP status for an error code: the table above, else 500.
 *
 * @param code - a registry code
 * @returns the status
 */
export function httpStatusOf(code: ErrorCode): number {
  return statusOfCode[code] ?? 500;
}

/** The body of every error answer. */
export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: Readonly<Record<string, string | number | boolean>>;
  };
}

/** The code answered for failures that are not Rekey errors. */
const internalCode = 'REKEY_INTERNAL';

/**
 * Installs the error handler and the not-found handler on an app.
 *
 * @param app - the fastify instance, before its routes are registered
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(
    (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const { status, body } = answerFor(error);
      if (status === 503) {
        reply.header('retry-after', String(retryAfterSeconds));
        request.log.warn({ err: error }, 'dependency unavailable');
      } else if (status >= 500) {
        request.log.error({ err: error }, 'request failed');
      }

      return reply.status(status).send(body);
    },
  );

  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      error: {
        code: 'REKEY_INPUT_INVALID',
        message: `no route ${request.method} ${request.url.split('?', 1)[0]}`,
      },
    };

    return reply.status(404).send(body);
  });
}

/**
 * The status and body for anything a route threw.
 *
 * @internal
 */
export function answerFor(error: unknown): {
  status: number;
  body: ErrorBody;
} {
  if (isRekeyError(error)) {
    const details =
      Object.keys(error.details).length === 0 ? {} : { details: error.details };

    return {
      status: httpStatusOf(error.code),
      body: { error: { code: error.code, message: error.message, ...details } },
    };
  }

  // Fastify's own client errors: malformed JSON, wrong content type, body
  // too large. Their messages are fixed texts about the request.
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  if (
    typeof statusCode === 'number' &&
    statusCode >= 400 &&
    statusCode < 500 &&
    error instanceof Error
  ) {
    return {
      status: statusCode,
      body: { error: { code: 'REKEY_INPUT_INVALID', message: error.message } },
    };
  }

  return {
    status: 500,
    body: {
      error: {
        code: internalCode,
        message: 'the scheduler failed unexpectedly; the failure is logged',
      },
    },
  };
}
