/**
 * Where the integration tests find the real services. Each may be
 * overridden by the environment; the defaults are the local services.
 */
export const testEnv = Object.freeze({
  databaseUrl:
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  pkcs11Module:
    process.env.REKEY_PKCS11_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so',
});

/** A name unique to this run, for schemas, queues, tenants and labels. */
export function uniqueName(prefix: string): string {
  const random = Math.random().toString(36).slice(2, 8);

  return `${prefix}_${Date.now().toString(36)}_${random}`;
}
