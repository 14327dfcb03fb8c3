import { existsSync } from 'node:fs';

import type { RuntimeConfig } from '@rekey/runtime';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * Checks, within a few seconds, that PostgreSQL, Redis and the PKCS#11
 * module are there, and returns one line per missing service that says how
 * to start or install it. An empty list means all three answered.
 */
export async function preflight(config: RuntimeConfig): Promise<string[]> {
  const problems = await Promise.all([
    checkPostgres(config.database.url),
    checkRedis(config.redis.url),
    checkPkcs11Module(config.hsm.modulePath),
  ]);

  return problems.filter((p): p is string => p !== undefined);
}

async function checkPostgres(url: string): Promise<string | undefined> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 3000,
  });
  try {
    await client.connect();
    await client.query('select 1');

    return undefined;
  } catch (error) {
    return (
      `PostgreSQL does not answer at ${hostOf(url)} (${messageOf(error)}). ` +
      'Start it — `docker compose -f infra/docker-compose.yml up -d postgres`, or your ' +
      "distribution's service (Debian: `pg_ctlcluster 15 main start`) — or point DATABASE_URL at one."
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRedis(url: string): Promise<string | undefined> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    commandTimeout: 3000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();

    return undefined;
  } catch (error) {
    return (
      `Redis does not answer at ${hostOf(url)} (${messageOf(error)}). ` +
      'Start it — `docker compose -f infra/docker-compose.yml up -d redis`, or ' +
      '`redis-server --daemonize yes` — or point REDIS_URL at one.'
    );
  } finally {
    redis.disconnect();
  }
}

function checkPkcs11Module(path: string): string | undefined {
  if (existsSync(path)) return undefined;

  return (
    `SoftHSM2 is not installed: there is no PKCS#11 module at ${path}. ` +
    'Install it (Debian/Ubuntu: `apt-get install softhsm2`; macOS: `brew install softhsm`) ' +
    "or point REKEY_PKCS11_MODULE at your HSM vendor's module."
  );
}

function hostOf(url: string): string {
  try {
    const parsed = new URL(url);

    return `${parsed.hostname}:${parsed.port || (parsed.protocol.startsWith('redis') ? 6379 : 5432)}`;
  } catch {
    return 'the configured address';
  }
}

function messageOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;

  return error instanceof Error ? error.message : String(error);
}
