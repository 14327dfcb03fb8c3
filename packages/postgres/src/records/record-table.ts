import { assertIdentifier } from '../schema/sql-identifiers.js';

/**
 * Where the encrypted rows live: a table with a tenant column, a bigint id
 * column unique within a tenant, a bytea ciphertext column and a column
 * naming the key each row is encrypted under. Names are used exactly as
 * given (quoted), and must be plain identifiers.
 */
export interface RecordTable {
  readonly schema: string;
  readonly table: string;
  readonly tenantColumn: string;
  readonly idColumn: string;
  readonly ciphertextColumn: string;
  readonly keyColumn: string;
  /**
   * The sequence that hands out ids, in {@link RecordTable.schema}.
   * @defaultValue `<table>_<idColumn>_seq`, the name PostgreSQL gives the
   *   sequence of a serial or identity column
   */
  readonly idSequence?: string;
}

/** A {@link RecordTable} whose names were checked and defaults filled in. */
export interface CheckedRecordTable extends RecordTable {
  readonly idSequence: string;
}

/**
 * The table that migration 001 creates, `context_records`.
 *
 * @param schema - the Rekey schema
 */
export function defaultRecordTable(schema: string): RecordTable {
  return Object.freeze({
    schema,
    table: 'context_records',
    tenantColumn: 'tenant_id',
    idColumn: 'id',
    ciphertextColumn: 'ciphertext',
    keyColumn: 'key_id',
  });
}

/**
 * Checks every name of a record table and fills in the id sequence.
 *
 * @param table - the mapping to check
 * @returns a frozen copy
 * @throws RekeyError `REKEY_CONFIG_INVALID` when a name is not a plain
 *   identifier
 */
export function checkRecordTable(table: RecordTable): CheckedRecordTable {
  const checked = {
    schema: assertIdentifier(table.schema, 'record schema'),
    table: assertIdentifier(table.table, 'record table'),
    tenantColumn: assertIdentifier(table.tenantColumn, 'tenant column'),
    idColumn: assertIdentifier(table.idColumn, 'id column'),
    ciphertextColumn: assertIdentifier(
      table.ciphertextColumn,
      'ciphertext column',
    ),
    keyColumn: assertIdentifier(table.keyColumn, 'key column'),
    idSequence: assertIdentifier(
      table.idSequence ?? `${table.table}_${table.idColumn}_seq`,
      'id sequence',
    ),
  };

  return Object.freeze(checked);
}
