import { encryptRecord, type KeyHierarchy } from '@rekey/core';
import type { RecordBatchIo, RecordTable } from '@rekey/postgres';

import { recordContext } from './record-context.js';

/** Options of {@link seedTenant}. */
export interface SeedTenantOptions {
  readonly hierarchy: KeyHierarchy;
  readonly records: RecordBatchIo;
  readonly table: RecordTable;
  readonly tenantId: string;
  readonly rows: number;
  /**
   * Rows written per statement.
   * @defaultValue 2_000
   */
  readonly batchSize?: number;
  /** Called after each batch with the rows written so far. */
  readonly onProgress?: (rowsWritten: number) => void;
}

/** What {@link seedTenant} wrote. */
export interface SeedResult {
  readonly keyId: number;
  readonly keyVersion: number;
  readonly rows: number;
}

/**
 * Writes `rows` context records for a tenant, each a JSON document of about
 * 0.5 to 4 KiB encrypted under the tenant's current DEK (version 1 is
 * created if the tenant has none). For demos, tests and benchmarks.
 */
export async function seedTenant(
  options: SeedTenantOptions,
): Promise<SeedResult> {
  const batchSize = options.batchSize ?? 2_000;
  const dek = await options.hierarchy.ensureTenantDek(options.tenantId);
  const key = await options.hierarchy.dataKey(dek.id);

  let written = 0;
  while (written < options.rows) {
    const count = Math.min(batchSize, options.rows - written);
    const ids = await options.records.allocateIds(count);
    const rows = ids.map((id, i) => {
      const context = recordContext(options.table, options.tenantId, id);
      const document = contextDocument(options.tenantId, written + i);

      return {
        id,
        keyId: dek.id,
        ciphertext: encryptRecord(key, context, document),
      };
    });

    await options.records.insertRecords(options.tenantId, rows);
    written += count;
    options.onProgress?.(written);
  }

  return { keyId: dek.id, keyVersion: dek.version, rows: written };
}

const words = [
  'account',
  'billing',
  'session',
  'profile',
  'preference',
  'address',
  'invoice',
  'contract',
  'consent',
  'device',
  'region',
  'ticket',
  'note',
  'history',
  'payment',
  'message',
  'channel',
  'segment',
  'policy',
  'audit',
];

/**
 * A JSON context document whose size varies from about 512 to 4,096 bytes
 * with the sequence number. Deterministic, so runs can be compared.
 *
 * @internal
 */
export function contextDocument(tenantId: string, sequence: number): Buffer {
  const random = mulberry32(sequence + 1);
  const target = 512 + Math.floor(random() * (4096 - 512));
  const notes: string[] = [];
  let size = 160;
  while (size < target) {
    const word = words[Math.floor(random() * words.length)] ?? 'note';
    notes.push(word);
    size += word.length + 3;
  }

  return Buffer.from(
    JSON.stringify({
      tenant: tenantId,
      sequence,
      kind: words[sequence % words.length],
      createdAt: new Date(Date.UTC(2026, 0, 1) + sequence * 1000).toISOString(),
      score: Math.round(random() * 10_000) / 100,
      notes: notes.join(' '),
    }),
  );
}

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;

  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);

    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
