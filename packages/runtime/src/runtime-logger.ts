import { isRekeyError } from '@rekey/core';
import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Paths pino replaces with `[redacted]` wherever they appear in a log line.
 * The project's own code never logs a secret; these catch what a future
 * mistake or a vendor object might carry.
 */
export const redactPaths: readonly string[] = [
  'pin',
  'password',
  'token',
  'authorization',
  'cookie',
  'key',
  'keyBytes',
  'material',
  'wrapped',
  'wrappedKey',
  'ciphertext',
  'plaintext',
  '*.pin',
  '*.password',
  '*.token',
  '*.authorization',
  '*.cookie',
  '*.key',
  '*.keyBytes',
  '*.material',
  '*.wrapped',
  '*.wrappedKey',
  '*.ciphertext',
  '*.plaintext',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-vault-token"]',
  'headers.authorization',
  'headers["x-vault-token"]',
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  readonly name: string;
  /** @defaultValue `'info'` */
  readonly level?: string;
  /** Where lines go. @defaultValue standard output */
  readonly destination?: DestinationStream;
  /**
   * Logs an HTTP request under `req` and its reply under `res` through
   * {@link httpSerializers}, for an app that serves HTTP.
   *
   * @defaultValue false: `req` and `res` are logged as given
   */
  readonly http?: boolean;
  /**
   * Adds each error's stack to what {@link serializeError} keeps.
   *
   * @defaultValue false
   */
  readonly errorStacks?: boolean;
}

/**
 * The root logger of an app. Errors are logged under `err` through {@link
 * serializeError}, which keeps only what is known to be free of secrets,
 * and every path of {@link redactPaths} is censored.
 *
 * Level policy: `error` — an operator must act; `warn` — degraded but
 * retrying; `info` — lifecycle (start, stop, job done with counts and
 * duration); `debug` — per-batch detail.
 *
 * @param options - the name, level, destination and serializers
 * @returns a pino logger, which fastify also takes as `loggerInstance`
 */
export function createLogger(options: LoggerOptions): Logger {
  const stack = options.errorStacks ?? false;

  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: [...redactPaths], censor: '[redacted]' },
      serializers: {
        ...(options.http === true ? httpSerializers : {}),
        err: (error: unknown) => serializeError(error, { stack }),
      },
    },
    options.destination,
  );
}

/** The parts of an HTTP request that {@link httpSerializers} reads. */
export interface LoggedRequest {
  readonly method?: string;
  readonly url?: string;
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
  readonly host?: string;
  readonly ip?: string;
  readonly socket?: { readonly remotePort?: number } | null;
}

/** The part of an HTTP reply that {@link httpSerializers} reads. */
export interface LoggedReply {
  readonly statusCode?: number;
}

/**
 * What is logged of an HTTP request and its reply, field by field, in the
 * shape fastify's request and reply objects have. Nothing else is kept:
 * no header but `accept-version`, no body, no parameters beyond the URL.
 */
export const httpSerializers = Object.freeze({
  req: (request: LoggedRequest) => ({
    method: request.method,
    url: request.url,
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  }),
  res: (reply: LoggedReply) => ({ statusCode: reply.statusCode }),
});

/** Options of {@link serializeError}. */
export interface SerializeErrorOptions {
  /**
   * Keeps the stack: the error's type and message again, then source
   * locations.
   *
   * @defaultValue false
   */
  readonly stack?: boolean;
}

/**
 * Reduces an error to fields that cannot carry secrets: for Rekey's errors
 * the code, message and details, which the adapters have already cleaned;
 * for anything else only its type, message and errno-style code, never its
 * own properties (a vendor error may hold a command's arguments, request
 * headers, parameters or key handles). Causes and the errors of an
 * `AggregateError` are reduced the same way.
 *
 * @param error - anything caught
 * @param options - whether to keep stacks
 * @returns a plain object for the log line
 */
export function serializeError(
  error: unknown,
  options: SerializeErrorOptions = {},
): Record<string, unknown> {
  const withStack =
    options.stack === true && error instanceof Error
      ? { stack: error.stack }
      : {};

  if (isRekeyError(error)) {
    return {
      type: error.name,
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      details: error.details,
      ...withStack,
      ...(error.cause === undefined
        ? {}
        : { cause: serializeError(error.cause, options) }),
    };
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;

    return {
      type: error.name,
      message: error.message,
      ...withStack,
      ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
      ...(error instanceof AggregateError
        ? {
            errors: error.errors.map((inner: unknown) =>
              serializeError(inner, options),
            ),
          }
        : {}),
    };
  }

  return { type: typeof error, message: String(error) };
}
