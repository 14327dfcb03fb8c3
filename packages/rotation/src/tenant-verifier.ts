import {
  decryptRecord,
  readEnvelopeHeader,
  RekeyError,
  type DataKey,
  type KeyHierarchy,
} from '@rekey/core';
import type { RecordBatchIo, RecordTable } from '@rekey/postgres';

import { describeFailure } from './failure-description.js';
import { recordContext } from './record-context.js';

/** Options of {@link verifyTenant}. */
export interface VerifyTenantOptions {
  readonly hierarchy: KeyHierarchy;
  readonly records: RecordBatchIo;
  readonly table: RecordTable;
  readonly tenantId: string;
  /**
   * Rows read per query.
   * @defaultValue 5_000
   */
  readonly pageSize?: number;
  /**
   * How many failures to list in full; all are counted.
   * @defaultValue 100
   */
  readonly maxListedFailures?: number;
  /** Called after each page with the rows read so far. */
  readonly onProgress?: (rowsRead: number) => void;
}

/** One row that did not verify. */
export interface VerifyFailure {
  readonly rowId: bigint;
  readonly code: string;
  readonly reason: string;
}

/** What {@link verifyTenant} found. */
export interface VerifyReport {
  readonly tenantId: string;
  readonly rows: number;
  readonly verified: number;
  readonly failed: number;
  /** Rows that decrypted, per key version, oldest version first. */
  readonly byKey: ReadonlyArray<{
    readonly keyId: number;
    readonly version: number;
    readonly rows: number;
  }>;
  readonly failures: readonly VerifyFailure[];
}

/**
 * Decrypts every row of a tenant with the key its envelope names and counts
 * the rows per key version. A row fails when it does not decrypt, or when
 * its key column names another key than its envelope.
 */
export async function verifyTenant(
  options: VerifyTenantOptions,
): Promise<VerifyReport> {
  const pageSize = options.pageSize ?? 5_000;
  const maxListed = options.maxListedFailures ?? 100;
  const keys = new Map<number, Promise<DataKey>>();
  const byKey = new Map<
    number,
    { keyId: number; version: number; rows: number }
  >();
  const failures: VerifyFailure[] = [];
  let rows = 0;
  let failed = 0;

  let afterId = -(2n ** 63n);
  for (;;) {
    const page = await options.records.scanRecords({
      tenantId: options.tenantId,
      afterId,
      limit: pageSize,
    });
    if (page.length === 0) break;

    for (const row of page) {
      rows++;
      try {
        const key = await keyFor(row, keys, options.hierarchy);
        const context = recordContext(options.table, options.tenantId, row.id);
        decryptRecord(key, context, row.ciphertext).fill(0);
        const entry = byKey.get(key.keyId) ?? {
          keyId: key.keyId,
          version: key.version,
          rows: 0,
        };
        entry.rows++;
        byKey.set(key.keyId, entry);
      } catch (error) {
        failed++;
        if (failures.length < maxListed)
          failures.push({ rowId: row.id, ...describeFailure(error) });
      }
    }
    afterId = page[page.length - 1]!.id;
    options.onProgress?.(rows);
  }

  return {
    tenantId: options.tenantId,
    rows,
    verified: rows - failed,
    failed,
    byKey: [...byKey.values()].sort((a, b) => a.version - b.version),
    failures,
  };
}

function keyFor(
  row: {
    readonly id: bigint;
    readonly keyId: number;
    readonly ciphertext: Buffer;
  },
  keys: Map<number, Promise<DataKey>>,
  hierarchy: KeyHierarchy,
): Promise<DataKey> {
  const header = readEnvelopeHeader(row.ciphertext);
  if (header.keyId !== row.keyId) {
    throw new RekeyError(
      'REKEY_KEY_MISMATCH',
      `row ${row.id} is marked as under key ${row.keyId} but its envelope names key ${header.keyId}`,
    );
  }

  let key = keys.get(header.keyId);
  if (!key) {
    key = hierarchy.dataKey(header.keyId);
    keys.set(header.keyId, key);
  }

  return key;
}
