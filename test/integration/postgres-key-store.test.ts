import { randomBytes } from 'node:crypto';

import { isRekeyError, type NewKeyVersion, type WrappedKey } from '@rekey/core';
import {
  createDatabase,
  createPool,
  migrateToLatest,
  PgKeyStore,
} from '@rekey/postgres';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { testEnv, uniqueName } from '../support/test-env.js';

const schema = uniqueName('rk');
let pool: pg.Pool;
let store: PgKeyStore;
let masterId: number;

function dekVersion(
  tenantId: string,
  extra: Partial<NewKeyVersion> = {},
): NewKeyVersion & { wrapped: WrappedKey } {
  return {
    kind: 'dek',
    scope: tenantId,
    wrappedById: masterId,
    hsmLabel: null,
    ...extra,
    wrapped: { mechanism: 'aes-key-wrap-pad', bytes: randomBytes(40) },
  };
}

beforeAll(async () => {
  pool = createPool({
    connectionString: testEnv.databaseUrl,
    max: 12,
    applicationName: `rekey-test-${schema}`,
  });
  await migrateToLatest(pool, { schema });
  store = new PgKeyStore(createDatabase(pool, { schema }));
  const master = await store.addActiveVersion({
    kind: 'master',
    scope: 'master',
    wrappedById: null,
    wrapped: null,
    hsmLabel: `master-${schema}`,
  });
  masterId = master.id;
});

afterAll(async () => {
  await pool.query(`drop schema if exists "${schema}" cascade`);
  await pool.end();
});

describe('PgKeyStore', () => {
  it('stores a master key with its label and no wrapped bytes', async () => {
    const master = await store.getKey(masterId);

    expect(master).toMatchObject({
      kind: 'master',
      scope: 'master',
      version: 1,
      state: 'active',
      wrappedById: null,
      wrapped: null,
      hsmLabel: `master-${schema}`,
      retiredAt: null,
    });
    expect(master?.createdAt).toBeInstanceOf(Date);
  });

  it('numbers versions from 1 and demotes the previous active version', async () => {
    const tenant = uniqueName('tenant');
    const v1 = await store.addActiveVersion(dekVersion(tenant));
    const v2 = await store.addActiveVersion(dekVersion(tenant));

    expect(v1.version).toBe(1);
    expect(v2.version).toBe(2);
    expect(v2.state).toBe('active');
    expect((await store.getKey(v1.id))?.state).toBe('decrypt-only');
    expect((await store.findActiveKey('dek', tenant))?.id).toBe(v2.id);
    expect((await store.listKeys('dek', tenant)).map((k) => k.version)).toEqual(
      [1, 2],
    );
  });

  it('keeps the wrapped bytes, out of JSON', async () => {
    const tenant = uniqueName('tenant');
    const input = dekVersion(tenant);
    const key = await store.addActiveVersion(input);

    const read = await store.getKey(key.id);

    expect(read?.wrapped?.mechanism).toBe('aes-key-wrap-pad');
    expect(read?.wrapped?.bytes.equals(input.wrapped.bytes)).toBe(true);
    expect(read?.wrappedById).toBe(masterId);
    expect(JSON.stringify(read)).not.toContain(
      input.wrapped.bytes.toString('hex').slice(0, 16),
    );
  });

  it('sets activated_at on the new version and keeps it on the demoted one', async () => {
    const tenant = uniqueName('tenant');
    const v1 = await store.addActiveVersion(dekVersion(tenant));
    await store.addActiveVersion(dekVersion(tenant));

    const { rows } = await pool.query<{
      version: number;
      activated_at: Date | null;
      retired_at: Date | null;
    }>(
      `select version, activated_at, retired_at from "${schema}".keys where scope = $1 order by version`,
      [tenant],
    );

    expect(rows).toHaveLength(2);
    expect(rows.every((row) => row.activated_at instanceof Date)).toBe(true);
    expect(rows.every((row) => row.retired_at === null)).toBe(true);
    expect(v1.version).toBe(1);
  });

  it('returns the version a run already made instead of adding another', async () => {
    const tenant = uniqueName('tenant');
    await store.addActiveVersion(dekVersion(tenant));

    const first = await store.addActiveVersion(
      dekVersion(tenant, { createdByRun: 77 }),
    );
    const again = await store.addActiveVersion(
      dekVersion(tenant, { createdByRun: 77 }),
    );

    expect(again.id).toBe(first.id);
    expect(again.version).toBe(2);
    expect(await store.listKeys('dek', tenant)).toHaveLength(2);
  });

  it('gives 10 concurrent calls versions 1..10 with exactly one active', async () => {
    const tenant = uniqueName('tenant');

    const made = await Promise.all(
      Array.from({ length: 10 }, () =>
        store.addActiveVersion(dekVersion(tenant)),
      ),
    );
    const keys = await store.listKeys('dek', tenant);

    expect(made.map((k) => k.version).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    expect(keys.map((k) => k.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(keys.filter((k) => k.state === 'active')).toHaveLength(1);
    expect(keys.find((k) => k.state === 'active')?.version).toBe(10);
  });

  it('makes one version for concurrent calls of the same run', async () => {
    const tenant = uniqueName('tenant');

    const made = await Promise.all(
      Array.from({ length: 5 }, () =>
        store.addActiveVersion(dekVersion(tenant, { createdByRun: 5 })),
      ),
    );

    expect(new Set(made.map((k) => k.id)).size).toBe(1);
    expect(await store.listKeys('dek', tenant)).toHaveLength(1);
  });

  it('refuses to retire the active key, and retires a decrypt-only one', async () => {
    const tenant = uniqueName('tenant');
    const v1 = await store.addActiveVersion(dekVersion(tenant));

    const refused = await store.retireKey(v1.id).catch((e: unknown) => e);
    expect(isRekeyError(refused, 'REKEY_KEY_STATE_INVALID')).toBe(true);
    expect((await store.getKey(v1.id))?.state).toBe('active');

    await store.addActiveVersion(dekVersion(tenant));
    const retired = await store.retireKey(v1.id);
    const again = await store.retireKey(v1.id);

    expect(retired.state).toBe('retired');
    expect(retired.retiredAt).toBeInstanceOf(Date);
    expect(again.retiredAt?.getTime()).toBe(retired.retiredAt?.getTime());
  });

  it('reports an unknown key', async () => {
    expect(await store.getKey(987_654_321)).toBeUndefined();
    expect(
      await store.findActiveKey('dek', uniqueName('none')),
    ).toBeUndefined();

    const error = await store.retireKey(987_654_321).catch((e: unknown) => e);
    expect(isRekeyError(error, 'REKEY_KEY_NOT_FOUND')).toBe(true);
  });

  it('refuses a malformed version', async () => {
    const error = await store
      .addActiveVersion(dekVersion('', {}))
      .catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_INPUT_INVALID')).toBe(true);
  });

  it('reports a wrapping key that does not exist', async () => {
    const error = await store
      .addActiveVersion(
        dekVersion(uniqueName('tenant'), { wrappedById: 987_654_321 }),
      )
      .catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_KEY_NOT_FOUND')).toBe(true);
  });

  it('says to migrate when the schema is missing', async () => {
    const missing = new PgKeyStore(
      createDatabase(pool, { schema: uniqueName('absent') }),
    );

    const error = await missing.getKey(1).catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_DB_SCHEMA_MISSING')).toBe(true);
  });
});
