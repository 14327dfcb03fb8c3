import { describe, expect, it } from 'vitest';

import { writeEnvelopeHeader } from './envelope-format.js';
import { buildRecordAad } from './record-aad.js';

describe('record AAD', () => {
  it('has pinned bytes for one fixed row', () => {
    const header = writeEnvelopeHeader(5, 2);

    const aad = buildRecordAad(header, {
      tenantId: 'tenant-a',
      table: 'rekey.context_records',
      column: 'ciphertext',
      rowId: 7n,
    });

    // Changing these bytes makes every stored ciphertext unreadable: the
    // layout is documented in docs/envelope-format.md and must not drift.
    expect(aad.toString('hex')).toBe(
      '72656b65792e6161642e7631' + // "rekey.aad.v1"
        '524b0101' +
        '00000005' +
        '00000002' + // header: RK, v1, alg 1, key 5, v2
        '0008' +
        '74656e616e742d61' + // "tenant-a"
        '0015' +
        '72656b65792e636f6e746578745f7265636f726473' + // table
        '000a' +
        '63697068657274657874' + // "ciphertext"
        '0001' +
        '37', // "7"
    );
  });

  it('gives the same bytes for a row id as bigint, number or text', () => {
    const header = writeEnvelopeHeader(1, 1);
    const base = { tenantId: 't', table: 'x', column: 'c' };

    const forms = [42n, 42, '42'].map((rowId) =>
      buildRecordAad(header, { ...base, rowId }).toString('hex'),
    );

    expect(new Set(forms).size).toBe(1);
  });

  it('keeps fields apart so that shifting a boundary changes the bytes', () => {
    const header = writeEnvelopeHeader(1, 1);

    const a = buildRecordAad(header, {
      tenantId: 'ab',
      table: 'c',
      column: 'd',
      rowId: 1,
    });
    const b = buildRecordAad(header, {
      tenantId: 'a',
      table: 'bc',
      column: 'd',
      rowId: 1,
    });

    expect(a.equals(b)).toBe(false);
  });

  it('refuses empty fields and row ids that are not integers', () => {
    const header = writeEnvelopeHeader(1, 1);

    expect(() =>
      buildRecordAad(header, {
        tenantId: '',
        table: 'x',
        column: 'c',
        rowId: 1,
      }),
    ).toThrow(/tenant id/);
    expect(() =>
      buildRecordAad(header, {
        tenantId: 't',
        table: 'x',
        column: 'c',
        rowId: '1e3',
      }),
    ).toThrow(/row id/);
  });
});
