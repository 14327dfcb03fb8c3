import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

import { testEnv, uniqueName } from '../support/test-env.js';

const cli = fileURLToPath(
  new URL('../../apps/cli/dist/main.js', import.meta.url),
);
const devDir = mkdtempSync(join(tmpdir(), 'rekey-cli-test-'));
const schema = uniqueName('rk_cli');

const baseEnv = {
  PATH: process.env.PATH ?? '',
  DATABASE_URL: testEnv.databaseUrl,
  REDIS_URL: testEnv.redisUrl,
  REKEY_PKCS11_MODULE: testEnv.pkcs11Module,
  REKEY_DB_SCHEMA: schema,
  REKEY_QUEUE_PREFIX: `{${schema}}`,
  REKEY_DEV_DIR: devDir,
  REKEY_RANGE_SIZE: '1000',
  REKEY_BATCH_SIZE: '500',
};

function rekey(args: string[], env: Record<string, string> = {}) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [cli, ...args], {
    env: { ...baseEnv, ...env },
    encoding: 'utf8',
    timeout: 180_000,
  });

  return { ...result, millis: performance.now() - started };
}

afterAll(async () => {
  const redis = new Redis(testEnv.redisUrl);
  const keys = await redis.keys(`{${schema}}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  const client = new pg.Client({ connectionString: testEnv.databaseUrl });
  await client.connect();
  await client.query(`drop schema if exists "${schema}" cascade`);
  await client.end();
  rmSync(devDir, { recursive: true, force: true });
});

describe('rekey demo', () => {
  it.each([
    [
      'Redis',
      { REDIS_URL: 'redis://127.0.0.1:1' },
      /Redis does not answer at 127\.0\.0\.1:1.*Start it/s,
    ],
    [
      'PostgreSQL',
      { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' },
      /PostgreSQL does not answer at 127\.0\.0\.1:1.*Start it/s,
    ],
    [
      'SoftHSM2',
      { REKEY_PKCS11_MODULE: '/nonexistent/libsofthsm2.so' },
      /SoftHSM2 is not installed.*apt-get install softhsm2/s,
    ],
  ])(
    'stops at once and says how to start %s when it is missing',
    (_name, env, message) => {
      const result = rekey(['demo', '--rows', '10'], env);

      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).not.toMatch(/^demo: tenant=/m);
    },
  );

  it('runs the main job end to end and prints its summary line', () => {
    const result = rekey(['demo', '--rows', '3000', '--tenant', 'demo-cli']);

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const line = result.stdout
      .split('\n')
      .find((l) => l.startsWith('demo: tenant='));
    expect(line).toMatch(
      /^demo: tenant=demo-cli rows=3000 reencrypted=3000 failed=0 verified=3000 old_key=retired rows_per_s=\d+$/,
    );
  });

  it('shows in status the old DEK retired with no rows, the new one active', () => {
    const status = rekey(['status', '--tenant', 'demo-cli']);

    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/dek demo-cli v1: key \d+ retired rows=0/);
    expect(status.stdout).toMatch(/dek demo-cli v2: key \d+ active rows=3000/);
  });
});

describe('rekey commands given bad input', () => {
  it('names an unknown tenant', () => {
    const result = rekey(['verify', '--tenant', 'nobody-here']);

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /REKEY_TENANT_UNKNOWN: tenant "nobody-here" has no data-encryption key/,
    );
  });

  it.each([['many'], ['-5'], ['1e3'], ['99999999999']])(
    'names a malformed row count: %s',
    (rows) => {
      const result = rekey(['seed', '--tenant', 't1', '--rows', rows]);

      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(
        /REKEY_INPUT_INVALID: --rows must be a whole number from 0 to 100,000,000/,
      );
    },
  );

  it('refuses a wrong HSM PIN without writing anything or printing the PIN', async () => {
    const result = rekey(['seed', '--tenant', 'tenant-pin', '--rows', '10'], {
      REKEY_HSM_PIN: 'not-the-pin-4821',
    });

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/REKEY_HSM_PIN_INCORRECT/);
    expect(result.stderr + result.stdout).not.toContain('not-the-pin-4821');
    const client = new pg.Client({ connectionString: testEnv.databaseUrl });
    await client.connect();
    const { rows } = await client.query(
      `select count(*)::int as n from "${schema}".keys where scope = 'tenant-pin'`,
    );
    await client.end();
    expect(rows[0].n).toBe(0);
  });
});
