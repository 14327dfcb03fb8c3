import { isRekeyError } from '@rekey/core';
import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Paths pino replaces with `[redacted]` wherever a log line has them. The
 * scheduler never logs a secret on purpose; these catch a future mistake,
 * or a vendor object that carries one.
 */
export const schedulerRedactPaths: readonly string[] = [
  'authorization',
  'cookie',
  'token',
  'pin',
  'password',
  'key',
  'ciphertext',
  'plaintext',
  'wrapped',
  '*.authorization',
  '*.cookie',
  '*.token',
  '*.pin',
  '*.password',
  '*.key',
  '*.ciphertext',
  '*.plaintext',
  '*.wrapped',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
];

/** Options of {@link createSchedulerLogger}. */
export interface SchedulerLoggerOptions {
  /** @defaultValue `'info'` */
  readonly level?: string;
  /** Where lines go. @defaultValue standard output */
  readonly destination?: DestinationStream;
}

/**
 * The scheduler's root logger. Call it fields first, then a short fixed
 * lowercase message; errors go under `err`.
 *
 * Level policy: `error` — an operator must act (a run could not be marked
 * failed, a request failed unexpectedly); `warn` — degraded but retrying
 * (Redis or PostgreSQL away, answered 503); `info` — lifecycle (start,
 * stop, rotation requested); `debug` — detail.
 *
 * @param options - level and destination
 * @returns a pino logger with the redact paths and error serializer set
 */
export function createSchedulerLogger(
  options: SchedulerLoggerOptions = {},
): Logger {
  return pino(
    {
      name: 'rekey-scheduler',
      level: options.level ?? 'info',
      redact: { paths: [...schedulerRedactPaths], censor: '[redacted]' },
      serializers: { err: serializeError },
    },
    options.destination,
  );
}

/**
 * Reduces an error to fields that cannot carry secrets. A Rekey error keeps
 * its code, message, details and stack, which its adapter cleaned; any
 * other error keeps only its type, message, stack and errno code, never its own
 * properties, since a vendor error may hold a command's arguments, request
 * headers or query parameters.
 *
 * @param error - anything caught
 * @returns a plain object for the log line
 */
export function serializeError(error: unknown): Record<string, unknown> {
  if (isRekeyError(error)) {
    return {
      type: error.name,
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      details: error.details,
      stack: error.stack,
      ...(error.cause === undefined
        ? {}
        : { cause: serializeError(error.cause) }),
    };
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;

    return {
      type: error.name,
      message: error.message,
      stack: error.stack,
      ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
      ...(error instanceof AggregateError
        ? {
            errors: error.errors.map((inner: unknown) => serializeError(inner)),
          }
        : {}),
    };
  }

  return { type: typeof error, message: String(error) };
}
