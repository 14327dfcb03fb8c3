import { decryptRecord, encryptRecord, type DataKey } from '@rekey/core';
import type {
  BatchRow,
  BatchTransform,
  RecordTable,
  RowFailure,
} from '@rekey/postgres';

import { describeFailure } from './failure-description.js';
import { recordContext } from './record-context.js';

/** What {@link reencryptTransform} needs. */
export interface ReencryptTransformOptions {
  readonly table: RecordTable;
  readonly tenantId: string;
  readonly from: DataKey;
  readonly to: DataKey;
}

/**
 * The per-batch step of re-encryption: decrypt each row under the old key
 * and encrypt it under the new one. A row that does not decrypt is reported
 * as a failure with its error code and left as it is; it never stops the
 * batch, and its plaintext (if any was produced) is wiped.
 *
 * @param options - table, tenant and the two keys
 * @returns a transform for {@link RecordBatchIo.reencryptBatch}
 */
export function reencryptTransform(
  options: ReencryptTransformOptions,
): BatchTransform {
  const { table, tenantId, from, to } = options;

  return (rows: readonly BatchRow[]) => {
    const rewritten: Array<{ id: bigint; ciphertext: Buffer }> = [];
    const failures: RowFailure[] = [];

    for (const row of rows) {
      const context = recordContext(table, tenantId, row.id);
      let plaintext: Buffer;
      try {
        plaintext = decryptRecord(from, context, row.ciphertext);
      } catch (error) {
        failures.push({ id: row.id, ...describeFailure(error) });
        continue;
      }

      rewritten.push({
        id: row.id,
        ciphertext: encryptRecord(to, context, plaintext),
      });
      plaintext.fill(0);
    }

    return { rewritten, failures };
  };
}
