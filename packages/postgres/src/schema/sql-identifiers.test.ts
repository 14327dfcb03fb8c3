import { isRekeyError } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import {
  checkRecordTable,
  defaultRecordTable,
} from '../records/record-table.js';
import {
  assertIdentifier,
  qualifiedName,
  quoteIdentifier,
} from './sql-identifiers.js';

describe('SQL identifiers', () => {
  it('accepts plain identifiers and quotes them, keeping their case', () => {
    expect(assertIdentifier('rekey', 'schema')).toBe('rekey');
    expect(quoteIdentifier('_Records2', 'table')).toBe('"_Records2"');
    expect(qualifiedName('rk_1', 'context_records')).toBe(
      '"rk_1"."context_records"',
    );
    expect(assertIdentifier('a'.repeat(63), 'table')).toHaveLength(63);
  });

  it.each([
    '',
    '1table',
    'a-b',
    'a b',
    'a"b',
    'rekey; drop table keys',
    'a.b',
    'ümlaut',
    'a'.repeat(64),
  ])('refuses %j with REKEY_CONFIG_INVALID', (name) => {
    let thrown: unknown;
    try {
      assertIdentifier(name, 'table');
    } catch (error) {
      thrown = error;
    }

    expect(isRekeyError(thrown, 'REKEY_CONFIG_INVALID')).toBe(true);
  });

  it('refuses values that are not strings', () => {
    expect(() => assertIdentifier(undefined, 'schema')).toThrow(/schema name/);
    expect(() => assertIdentifier(42, 'schema')).toThrow(/schema name/);
  });
});

describe('record table', () => {
  it('defaults to context_records and its sequence', () => {
    const table = checkRecordTable(defaultRecordTable('rk'));

    expect(table).toEqual({
      schema: 'rk',
      table: 'context_records',
      tenantColumn: 'tenant_id',
      idColumn: 'id',
      ciphertextColumn: 'ciphertext',
      keyColumn: 'key_id',
      idSequence: 'context_records_id_seq',
    });
    expect(Object.isFrozen(table)).toBe(true);
  });

  it('keeps a configured sequence and checks every name', () => {
    const table = { ...defaultRecordTable('rk'), table: 'notes' };

    expect(
      checkRecordTable({ ...table, idSequence: 'note_ids' }).idSequence,
    ).toBe('note_ids');
    expect(checkRecordTable(table).idSequence).toBe('notes_id_seq');
    expect(() => checkRecordTable({ ...table, keyColumn: 'key id' })).toThrow(
      /key column/,
    );
    expect(() =>
      checkRecordTable({ ...table, ciphertextColumn: 'ct"; --' }),
    ).toThrow(/ciphertext column/);
  });
});
