import { decryptRecord, readEnvelopeHeader } from '@rekey/core';
import { recordContext, retireDataKey } from '@rekey/rotation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createRekeyFixture,
  type RekeyFixture,
} from '../support/rekey-fixture.js';

// Retiring a key while rows still use it makes them unreadable later, at
// their next read. Retirement must wait for a fresh count of zero rows
// under the key, and reads must pick the key by the envelope, never by
// "current".
describe('retiring the old key while rows still use it', () => {
  let fx: RekeyFixture;

  beforeAll(async () => {
    fx = await createRekeyFixture({ rangeSize: 400, batchSize: 100 });
  });

  afterAll(async () => {
    await fx?.[Symbol.asyncDispose]();
  });

  it('is refused until no row uses it; the rows left stay readable under it', async () => {
    await fx.seed('tenant-a', 1_000);
    const old = await fx.services.hierarchy.activeDek('tenant-a');
    const { rows } = await fx.services.pool.query<{ id: string }>(
      `select id from "${fx.schema}".context_records where tenant_id = 'tenant-a'
        order by id offset 500 limit 2`,
    );
    // Two rows whose key column says they are under the old key, but whose
    // bytes were damaged, so they cannot be re-encrypted.
    await fx.services.pool.query(
      `update "${fx.schema}".context_records
          set ciphertext = set_byte(ciphertext, 40, get_byte(ciphertext, 40) # 255)
        where tenant_id = 'tenant-a' and id = any($1::bigint[])`,
      [rows.map((r) => r.id)],
    );
    const requested = await fx.rotate('tenant-a');
    const { rangeNos } = await fx.services.engine.startRotation(requested.id);
    for (const rangeNo of rangeNos) {
      await fx.services.engine.reencryptRange(requested.id, rangeNo);
    }

    const outcome = await fx.services.engine.finalize(requested.id);

    expect(outcome).toEqual({
      status: 'completed_with_failures',
      rowsRemaining: 2,
      oldKeyRetired: false,
    });
    expect((await fx.services.keys.getKey(old.id))?.state).toBe('decrypt-only');
    await expect(retireDataKey(fx.services, old.id)).rejects.toMatchObject({
      code: 'REKEY_KEY_RETIREMENT_BLOCKED',
      details: { keyId: old.id, remaining: 2 },
    });
    expect((await fx.services.keys.getKey(old.id))?.state).toBe('decrypt-only');
    for (const row of rows) {
      const failure = (await fx.services.runs.listFailures(requested.id)).find(
        (f) => f.rowId === BigInt(row.id),
      );
      expect(failure?.code).toBe('REKEY_CIPHERTEXT_AUTH_FAILED');
    }
  });

  it('reads a row with the key its envelope names, not the current key', async () => {
    await fx.seed('tenant-r', 50);
    const { rows } = await fx.services.pool.query<{
      id: string;
      ciphertext: Buffer;
    }>(
      `select id, ciphertext from "${fx.schema}".context_records where tenant_id = 'tenant-r' order by id limit 1`,
    );
    const row = rows[0]!;
    const requested = await fx.rotate('tenant-r');
    await fx.services.engine.startRotation(requested.id);

    const header = readEnvelopeHeader(row.ciphertext);
    const current = await fx.services.hierarchy.activeDek('tenant-r');
    expect(header.keyId).not.toBe(current.id);
    const key = await fx.services.hierarchy.dataKey(header.keyId);
    const plaintext = decryptRecord(
      key,
      recordContext(fx.config.table, 'tenant-r', BigInt(row.id)),
      row.ciphertext,
    );
    expect(plaintext.toString()).toContain('"tenant":"tenant-r"');
  });
});
