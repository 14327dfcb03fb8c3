import { isRekeyError, RekeyError } from '@rekey/core';
import { validateQueuePrefix } from '@rekey/queue';
import { z } from 'zod';

/**
 * The scheduler's configuration: read once from the environment at startup,
 * validated, then frozen. The defaults below are the only ones; nothing
 * else in the app reads `process.env`.
 */

/** An unset or empty variable takes its default. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema);

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
      message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    },
  );

/** The environment variables the scheduler reads, with their defaults. */
export const schedulerEnvSchema = z.object({
  PORT: optional(z.coerce.number().int().min(0).max(65_535).default(8080)),
  HOST: optional(z.string().min(1).default('127.0.0.1')),
  DATABASE_URL: optional(
    urlWithProtocols(['postgres:', 'postgresql:']).default(
      'postgres://postgres@127.0.0.1:5432/postgres',
    ),
  ),
  REKEY_DB_SCHEMA: optional(
    z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, {
        message: 'must be a lowercase SQL identifier',
      })
      .default('rekey'),
  ),
  REDIS_URL: optional(
    urlWithProtocols(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  ),
  REKEY_QUEUE_PREFIX: optional(
    z
      .string()
      .superRefine((prefix, context) => {
        try {
          validateQueuePrefix(prefix);
        } catch (error) {
          if (!isRekeyError(error)) throw error;
          context.addIssue({ code: 'custom', message: error.message });
        }
      })
      .default('{rekey}'),
  ),
  LOG_LEVEL: optional(
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  ),
});

/** The validated, frozen configuration. */
export interface SchedulerConfig {
  readonly port: number;
  readonly host: string;
  /** May hold a password: not enumerable, so never in a dump or log. */
  readonly databaseUrl: string;
  readonly databaseSchema: string;
  /** May hold a password: not enumerable, so never in a dump or log. */
  readonly redisUrl: string;
  readonly queuePrefix: string;
  readonly logLevel: string;
}

/**
 * Reads the scheduler's configuration.
 *
 * @param env - the environment, normally `process.env`
 * @returns the frozen configuration
 * @throws RekeyError `REKEY_CONFIG_INVALID` naming every malformed
 *   variable; the message never repeats a variable's value, which may be
 *   a secret
 */
export function loadSchedulerConfig(
  env: Readonly<Record<string, string | undefined>>,
): SchedulerConfig {
  const parsed = schedulerEnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')} ${issue.message}`)
      .join('; ');

    throw new RekeyError(
      'REKEY_CONFIG_INVALID',
      `the scheduler's environment is invalid: ${problems}`,
    );
  }

  const vars = parsed.data;
  const config = {
    port: vars.PORT,
    host: vars.HOST,
    databaseSchema: vars.REKEY_DB_SCHEMA,
    queuePrefix: vars.REKEY_QUEUE_PREFIX,
    logLevel: vars.LOG_LEVEL,
  };
  Object.defineProperties(config, {
    databaseUrl: { value: vars.DATABASE_URL, enumerable: false },
    redisUrl: { value: vars.REDIS_URL, enumerable: false },
  });

  return Object.freeze(config as SchedulerConfig);
}

/**
 * `host:port` of a URL, for log lines; never its user information.
 *
 * @param url - a connection URL
 * @returns `host:port`, or a placeholder for a malformed URL
 */
export function describeServer(url: string): string {
  try {
    const parsed = new URL(url);

    return `${parsed.hostname}:${parsed.port || 'default'}`;
  } catch {
    return 'the configured server';
  }
}
