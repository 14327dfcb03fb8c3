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
  '*.key',
  '*.keyBytes',
  '*.material',
  '*.wrapped',
  '*.wrappedKey',
  '*.ciphertext',
  '*.plaintext',
  'req.headers.authorization',
  'req.headers.cookie',
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
}

/**
 * The root logger of an app. Errors are logged under `err` through {@link
 * serializeError}, which keeps only what is known to be free of secrets.
 *
 * Level policy: `error` — an operator must act; `warn` — degraded but
 * retrying; `info` — lifecycle (start, stop, job done with counts and
 * duration); `debug` — per-batch detail.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: [...redactPaths], censor: '[redacted]' },
      serializers: { err: serializeError },
    },
    options.destination,
  );
}

/**
 * Reduces an error to fields that cannot carry secrets: for Rekey's errors
 * the code, message and details, which the adapters have already cleaned;
 * for anything else only its type and message, never its own properties
 * (a vendor error may hold request headers, parameters or key handles).
 */
export function serializeError(error: unknown): Record<string, unknown> {
  if (isRekeyError(error)) {
    return {
      type: error.name,
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      details: error.details,
      ...(error.cause === undefined ? {} : { cause: serializeError(error.cause) }),
    };
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;

    return {
      type: error.name,
      message: error.message,
      ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    };
  }

  return { type: typeof error, message: String(error) };
}
