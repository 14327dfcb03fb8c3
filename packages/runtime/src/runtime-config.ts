import type { WrapMechanism } from '@rekey/core';
import { isRekeyError, RekeyError } from '@rekey/core';
import type { RecordTable } from '@rekey/postgres';
import { validateQueuePrefix } from '@rekey/queue';
import { z } from 'zod';

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain SQL identifier');
const count = (fallback: number) =>
  z.coerce.number().int().positive().default(fallback);

/** A URL whose protocol is one of `protocols`, such as `postgres:`. */
const urlWithProtocols = (protocols: readonly string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    {
      error: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    },
  );

/** A queue prefix that `@rekey/queue` accepts: one `{hash tag}`. */
const queuePrefix = z.string().superRefine((prefix, context) => {
  try {
    validateQueuePrefix(prefix);
  } catch (error) {
    if (!isRekeyError(error)) throw error;
    context.addIssue({ code: 'custom', message: error.message });
  }
});

/**
 * Every environment variable the Rekey apps read, with its default. Apps
 * call {@link loadRuntimeConfig} once, at their entry point.
 */
export const runtimeEnvSchema = z.object({
  DATABASE_URL: urlWithProtocols(['postgres:', 'postgresql:']).default(
    'postgres://postgres@127.0.0.1:5432/postgres',
  ),
  REKEY_DB_SCHEMA: identifier.default('rekey'),
  REDIS_URL: urlWithProtocols(['redis:', 'rediss:']).default(
    'redis://127.0.0.1:6379',
  ),
  REKEY_QUEUE_PREFIX: queuePrefix.default('{rekey}'),
  REKEY_PKCS11_MODULE: z.string().default('/usr/lib/softhsm/libsofthsm2.so'),
  REKEY_HSM_TOKEN_LABEL: z.string().min(1).max(32).default('rekey'),
  REKEY_HSM_PIN: z.string().min(4).optional(),
  REKEY_HSM_MASTER_LABEL: z.string().min(1).default('rekey-master-1'),
  REKEY_HSM_WRAP_MECHANISM: z
    .enum(['aes-key-wrap-pad', 'aes-key-wrap'])
    .default('aes-key-wrap-pad'),
  REKEY_KEK_SCOPE: z.string().min(1).default('default'),
  REKEY_RECORD_SCHEMA: identifier.optional(),
  REKEY_RECORD_TABLE: identifier.default('context_records'),
  REKEY_RECORD_TENANT_COLUMN: identifier.default('tenant_id'),
  REKEY_RECORD_ID_COLUMN: identifier.default('id'),
  REKEY_RECORD_CIPHERTEXT_COLUMN: identifier.default('ciphertext'),
  REKEY_RECORD_KEY_COLUMN: identifier.default('key_id'),
  REKEY_RANGE_SIZE: count(50_000),
  REKEY_BATCH_SIZE: count(5_000),
  REKEY_WORKER_CONCURRENCY: count(1),
  REKEY_SHUTDOWN_GRACE_MILLIS: count(20_000),
  REKEY_WORKER_LOCK_DURATION_MILLIS: z.coerce
    .number()
    .int()
    .positive()
    .optional(),
  REKEY_WORKER_STALLED_INTERVAL_MILLIS: z.coerce
    .number()
    .int()
    .positive()
    .optional(),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  REKEY_API_URL: z.string().url().default('http://127.0.0.1:8080'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
});

/** The validated, frozen configuration of a Rekey process. */
export interface RuntimeConfig {
  readonly database: {
    /** May hold a password. Non-enumerable: never in a dump of the config. */
    readonly url: string;
    readonly schema: string;
  };
  readonly redis: {
    /** May hold a password. Non-enumerable: never in a dump of the config. */
    readonly url: string;
    readonly queuePrefix: string;
  };
  readonly hsm: {
    readonly modulePath: string;
    readonly tokenLabel: string;
    /** Non-enumerable: never shows in a dump of the config. */
    readonly pin: string | undefined;
    readonly masterLabel: string;
    readonly wrapMechanism: WrapMechanism;
    readonly kekScope: string;
  };
  readonly table: RecordTable;
  readonly rotation: { readonly rangeSize: number; readonly batchSize: number };
  readonly worker: {
    readonly concurrency: number;
    readonly shutdownGraceMillis: number;
    /** Unset: the queue package's default. */
    readonly lockDurationMillis: number | undefined;
    /** Unset: the queue package's default. */
    readonly stalledIntervalMillis: number | undefined;
  };
  readonly api: {
    readonly host: string;
    readonly port: number;
    readonly url: string;
  };
  readonly logLevel: string;
}

/**
 * Reads and validates the environment into a frozen {@link RuntimeConfig}.
 * An empty variable counts as unset and takes its default.
 *
 * @param env - the environment, normally `process.env`
 * @returns the frozen configuration
 * @throws RekeyError `REKEY_CONFIG_INVALID` naming every bad variable; the
 *   message never repeats the value of a URL or PIN, which may be secret
 */
export function loadRuntimeConfig(
  env: Readonly<Record<string, string | undefined>>,
): RuntimeConfig {
  const known = Object.fromEntries(
    Object.keys(runtimeEnvSchema.shape).map((name) => [
      name,
      env[name] === '' ? undefined : env[name],
    ]),
  );
  const parsed = runtimeEnvSchema.safeParse(known);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new RekeyError(
      'REKEY_CONFIG_INVALID',
      `the configuration is invalid: ${problems}`,
    );
  }

  const e = parsed.data;
  const hsm = hide(
    {
      modulePath: e.REKEY_PKCS11_MODULE,
      tokenLabel: e.REKEY_HSM_TOKEN_LABEL,
      masterLabel: e.REKEY_HSM_MASTER_LABEL,
      wrapMechanism: e.REKEY_HSM_WRAP_MECHANISM,
      kekScope: e.REKEY_KEK_SCOPE,
    },
    'pin',
    e.REKEY_HSM_PIN,
  );
  // Connection URLs may carry a password (`postgres://app:secret@db/…`).
  const database = hide({ schema: e.REKEY_DB_SCHEMA }, 'url', e.DATABASE_URL);
  const redis = hide({ queuePrefix: e.REKEY_QUEUE_PREFIX }, 'url', e.REDIS_URL);

  return deepFreeze({
    database,
    redis,
    hsm,
    table: {
      schema: e.REKEY_RECORD_SCHEMA ?? e.REKEY_DB_SCHEMA,
      table: e.REKEY_RECORD_TABLE,
      tenantColumn: e.REKEY_RECORD_TENANT_COLUMN,
      idColumn: e.REKEY_RECORD_ID_COLUMN,
      ciphertextColumn: e.REKEY_RECORD_CIPHERTEXT_COLUMN,
      keyColumn: e.REKEY_RECORD_KEY_COLUMN,
    },
    rotation: { rangeSize: e.REKEY_RANGE_SIZE, batchSize: e.REKEY_BATCH_SIZE },
    worker: {
      concurrency: e.REKEY_WORKER_CONCURRENCY,
      shutdownGraceMillis: e.REKEY_SHUTDOWN_GRACE_MILLIS,
      lockDurationMillis: e.REKEY_WORKER_LOCK_DURATION_MILLIS,
      stalledIntervalMillis: e.REKEY_WORKER_STALLED_INTERVAL_MILLIS,
    },
    api: { host: e.HOST, port: e.PORT, url: e.REKEY_API_URL },
    logLevel: e.LOG_LEVEL,
  });
}

/**
 * The HSM PIN, required by processes that use the HSM.
 *
 * @throws RekeyError `REKEY_CONFIG_INVALID` when it is not set
 */
export function requirePin(config: RuntimeConfig): string {
  if (config.hsm.pin) return config.hsm.pin;

  throw new RekeyError(
    'REKEY_CONFIG_INVALID',
    'REKEY_HSM_PIN is not set: give the user PIN of the HSM token in the environment',
  );
}

/**
 * `host:port` of a connection URL, for log lines; never its user
 * information, path or query.
 *
 * @param url - a connection URL, such as `config.database.url`
 * @returns `host:port`, with `default` for a URL without a port, or a
 *   placeholder for a malformed URL
 */
export function describeServer(url: string): string {
  try {
    const parsed = new URL(url);

    return `${parsed.hostname}:${parsed.port || 'default'}`;
  } catch {
    return 'the configured server';
  }
}

/** Adds a non-enumerable property, so dumps and logs never show it. */
function hide<T extends object, K extends string, V>(
  target: T,
  key: K,
  value: V,
): T & { readonly [P in K]: V } {
  Object.defineProperty(target, key, { value, enumerable: false });

  return target as T & { readonly [P in K]: V };
}

function deepFreeze<T extends object>(value: T): T {
  for (const key of Object.getOwnPropertyNames(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (child && typeof child === 'object') deepFreeze(child);
  }

  return Object.freeze(value);
}
