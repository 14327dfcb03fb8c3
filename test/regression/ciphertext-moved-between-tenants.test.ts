import { decryptRecord, isRekeyError } from '@rekey/core';
import { recordContext } from '@rekey/rotation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createRekeyFixture,
  type RekeyFixture,
} from '../support/rekey-fixture.js';

// Anyone with write access to the table can copy ciphertexts between rows.
// The AAD binds each one to its tenant, table, column and row, so a copied
// value must fail authentication with a typed error, never decrypt.
describe('a ciphertext copied to another tenant or row', () => {
  let fx: RekeyFixture;

  beforeAll(async () => {
    fx = await createRekeyFixture({ batchSize: 100 });
    await fx.seed('tenant-a', 20);
    await fx.seed('tenant-b', 20);
  });

  afterAll(async () => {
    await fx?.[Symbol.asyncDispose]();
  });

  async function rows(tenantId: string) {
    const { rows: found } = await fx.services.pool.query<{
      id: string;
      key_id: string;
      ciphertext: Buffer;
    }>(
      `select id, key_id, ciphertext from "${fx.schema}".context_records where tenant_id = $1 order by id`,
      [tenantId],
    );

    return found;
  }

  it('fails authentication in the other tenant, and verify names the row', async () => {
    const a7 = (await rows('tenant-a'))[7]!;
    const b9 = (await rows('tenant-b'))[9]!;
    await fx.services.pool.query(
      `update "${fx.schema}".context_records set ciphertext = $1, key_id = $2
        where tenant_id = 'tenant-b' and id = $3`,
      [a7.ciphertext, a7.key_id, b9.id],
    );

    const key = await fx.services.hierarchy.dataKey(Number(a7.key_id));
    let caught: unknown;
    try {
      decryptRecord(
        key,
        recordContext(fx.config.table, 'tenant-b', BigInt(b9.id)),
        a7.ciphertext,
      );
    } catch (error) {
      caught = error;
    }
    expect(isRekeyError(caught, 'REKEY_CIPHERTEXT_AUTH_FAILED')).toBe(true);
    expect(String((caught as Error).message)).toContain(
      'copied from another row',
    );

    const report = await fx.verify('tenant-b');
    expect(report.failed).toBe(1);
    expect(report.failures).toEqual([
      expect.objectContaining({
        rowId: BigInt(b9.id),
        code: 'REKEY_CIPHERTEXT_AUTH_FAILED',
      }),
    ]);
  });

  it('fails authentication in another row of the same tenant', async () => {
    const [r1, r2] = await rows('tenant-a');
    const key = await fx.services.hierarchy.dataKey(Number(r1!.key_id));

    expect(() =>
      decryptRecord(
        key,
        recordContext(fx.config.table, 'tenant-a', BigInt(r2!.id)),
        r1!.ciphertext,
      ),
    ).toThrow(
      expect.objectContaining({ code: 'REKEY_CIPHERTEXT_AUTH_FAILED' }),
    );
    expect(
      decryptRecord(
        key,
        recordContext(fx.config.table, 'tenant-a', BigInt(r1!.id)),
        r1!.ciphertext,
      ).toString(),
    ).toContain('"tenant":"tenant-a"');
  });
});
