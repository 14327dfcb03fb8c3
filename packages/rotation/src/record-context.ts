import type { RecordContext } from '@rekey/core';
import type { RecordTable } from '@rekey/postgres';

/**
 * The AAD context of one row of a record table. Every writer and reader of
 * the table — application, API, workers, `verify` — must build it here, so
 * that the bytes bound into each ciphertext never differ between them. The
 * table is bound by name without its schema, so a table may move between
 * schemas without its rows becoming unreadable.
 *
 * @param table - the record table mapping
 * @param tenantId - the row's tenant
 * @param rowId - the row's id
 */
export function recordContext(
  table: Pick<RecordTable, 'table' | 'ciphertextColumn'>,
  tenantId: string,
  rowId: bigint,
): RecordContext {
  return {
    tenantId,
    table: table.table,
    column: table.ciphertextColumn,
    rowId,
  };
}
