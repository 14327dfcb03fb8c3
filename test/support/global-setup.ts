import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';
import pg from 'pg';

import { testEnv } from './test-env.js';

/**
 * Runs once per test run: checks that the real services answer, then makes
 * a fresh SoftHSM2 token directory and token for this run alone. Testing
 * against mocks of these services is never an option, so a missing one
 * stops the run with a message that says how to start it.
 */
export default async function setup(): Promise<() => void> {
  await checkPostgres();
  await checkRedis();
  const dir = makeSoftHsmToken();

  return () => rmSync(dir, { recursive: true, force: true });
}

async function checkPostgres(): Promise<void> {
  const client = new pg.Client({
    connectionString: testEnv.databaseUrl,
    connectionTimeoutMillis: 3000,
  });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new Error(
      `PostgreSQL does not answer at DATABASE_URL (${redactUrl(testEnv.databaseUrl)}): ` +
        `${(error as Error).message}. Start it (for example with ` +
        '`docker compose -f infra/docker-compose.yml up -d`) or set DATABASE_URL.',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRedis(): Promise<void> {
  const redis = new Redis(testEnv.redisUrl, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(
      `Redis does not answer at REDIS_URL (${redactUrl(testEnv.redisUrl)}): ` +
        `${(error as Error).message}. Start it (for example with ` +
        '`docker compose -f infra/docker-compose.yml up -d`) or set REDIS_URL.',
    );
  } finally {
    redis.disconnect();
  }
}

function makeSoftHsmToken(): string {
  if (!existsSync(testEnv.pkcs11Module)) {
    throw new Error(
      `no PKCS#11 module at ${testEnv.pkcs11Module}: install SoftHSM2 ` +
        '(Debian: `apt-get install softhsm2`) or set REKEY_PKCS11_MODULE.',
    );
  }

  const dir = mkdtempSync(join(tmpdir(), 'rekey-test-hsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );

  const label = 'rekey-test';
  // Random and long, so that a test can search every log line for it.
  const pin = `pin-${randomBytes(9).toString('hex')}`;
  const soPin = `so-${randomBytes(9).toString('hex')}`;
  execFileSync(
    'softhsm2-util',
    [
      '--init-token',
      '--free',
      '--label',
      label,
      '--pin',
      pin,
      '--so-pin',
      soPin,
    ],
    { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'ignore' },
  );

  process.env.SOFTHSM2_CONF = conf;
  process.env.REKEY_TEST_TOKEN_LABEL = label;
  process.env.REKEY_TEST_PIN = pin;
  process.env.REKEY_TEST_SO_PIN = soPin;

  return dir;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
