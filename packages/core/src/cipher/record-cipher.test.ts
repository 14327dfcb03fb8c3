import { randomBytes } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { isRekeyError } from '../errors/rekey-errors.js';
import {
  envelopeLayout,
  readEnvelopeHeader,
} from '../envelope/envelope-format.js';
import type { RecordContext } from '../envelope/record-aad.js';
import { KeyMaterial } from '../keys/key-material.js';
import type { DataKey } from '../keys/key-types.js';
import { decryptRecord, encryptRecord } from './record-cipher.js';

const dataKey = (keyId = 7, version = 2): DataKey => ({
  keyId,
  version,
  material: new KeyMaterial(randomBytes(32)),
});

const row7: RecordContext = {
  tenantId: 'tenant-a',
  table: 'rekey.context_records',
  column: 'ciphertext',
  rowId: 7n,
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isRekeyError(error) ? error.code : 'not a RekeyError';
  }

  return undefined;
}

describe('record cipher', () => {
  it('round-trips a record and names its key in the header', () => {
    const key = dataKey();
    const plaintext = Buffer.from('{"note":"hello"}');

    const envelope = encryptRecord(key, row7, plaintext);

    expect(envelope.length).toBe(
      plaintext.length + envelopeLayout.overheadBytes,
    );
    expect(readEnvelopeHeader(envelope)).toEqual({
      formatVersion: 1,
      algorithm: 1,
      keyId: 7,
      keyVersion: 2,
    });
    expect(decryptRecord(key, row7, envelope)).toEqual(plaintext);
  });

  it('round-trips any plaintext in any context', () => {
    const key = dataKey();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 4096 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
        (bytes, tenantId, rowId) => {
          const context = { ...row7, tenantId, rowId };
          const envelope = encryptRecord(key, context, bytes);

          expect(decryptRecord(key, context, envelope)).toEqual(
            Buffer.from(bytes),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each([
    ['another tenant', { tenantId: 'tenant-b' }],
    ['another row', { rowId: 9n }],
    ['another column', { column: 'other' }],
    ['another table', { table: 'public.context_records' }],
  ])('refuses a ciphertext moved to %s', (_what, change) => {
    const key = dataKey();
    const envelope = encryptRecord(key, row7, Buffer.from('secret'));

    const code = codeOf(() =>
      decryptRecord(key, { ...row7, ...change }, envelope),
    );

    expect(code).toBe('REKEY_CIPHERTEXT_AUTH_FAILED');
  });

  it('refuses a ciphertext whose bytes were altered anywhere', () => {
    const key = dataKey();
    const envelope = encryptRecord(
      key,
      row7,
      Buffer.from('a record of some length'),
    );

    for (let i = 0; i < envelope.length; i++) {
      const altered = Buffer.from(envelope);
      altered[i]! ^= 0x01;

      const code = codeOf(() => decryptRecord(key, row7, altered));

      expect(code, `byte ${i}`).toMatch(
        /^REKEY_(CIPHERTEXT_AUTH_FAILED|KEY_MISMATCH|ENVELOPE_MALFORMED)$/,
      );
    }
  });

  it('refuses to decrypt with a key the header does not name', () => {
    const envelope = encryptRecord(dataKey(7, 1), row7, Buffer.from('x'));

    expect(codeOf(() => decryptRecord(dataKey(7, 2), row7, envelope))).toBe(
      'REKEY_KEY_MISMATCH',
    );
  });

  it('says what is wrong with bytes that are not an envelope', () => {
    const key = dataKey();

    expect(codeOf(() => decryptRecord(key, row7, Buffer.alloc(10)))).toBe(
      'REKEY_ENVELOPE_MALFORMED',
    );
    expect(codeOf(() => decryptRecord(key, row7, Buffer.alloc(60)))).toBe(
      'REKEY_ENVELOPE_MALFORMED',
    );
  });

  it('draws a fresh IV for every encryption', () => {
    const key = dataKey();
    const seen = new Set<string>();
    const count = 100_000;

    for (let i = 0; i < count; i++) {
      const envelope = encryptRecord(key, row7, Buffer.alloc(0));
      seen.add(envelope.subarray(12, 24).toString('hex'));
    }

    expect(seen.size).toBe(count);
  }, 60_000);

  it('never shows key bytes when a key is logged or serialised', () => {
    const bytes = randomBytes(32);
    const key = {
      keyId: 1,
      version: 1,
      material: new KeyMaterial(Buffer.from(bytes)),
    };

    const dumped = JSON.stringify(key) + String(key.material);

    expect(dumped).not.toContain(bytes.toString('hex'));
    expect(dumped).not.toContain(bytes.toString('base64'));
    expect(dumped).toContain('[key material]');
  });

  it('zeroes key bytes when destroyed', () => {
    const material = new KeyMaterial(randomBytes(32));
    const view = material.bytes;

    material.destroy();

    expect(view.every((b) => b === 0)).toBe(true);
    expect(() => material.bytes).toThrow(/destroyed/);
  });
});
