import { randomBytes } from 'node:crypto';

import { RekeyError } from '../errors/rekey-errors.js';
import {
  envelopeLayout,
  splitEnvelope,
  writeEnvelopeHeader,
} from '../envelope/envelope-format.js';
import { buildRecordAad, type RecordContext } from '../envelope/record-aad.js';
import type { DataKey } from '../keys/key-types.js';
import { gcmOpen, gcmSeal } from './aes-gcm.js';

/**
 * Encrypts one record under a data key and returns its envelope.
 *
 * Each call draws a fresh random 96-bit IV from the operating system's CSPRNG.
 *
 * @param key - the DEK to encrypt under; its id and version go in the header
 * @param context - where the record will be stored, bound through the AAD
 * @param plaintext - the record's bytes
 * @returns the envelope: header, IV, ciphertext, tag
 */
export function encryptRecord(
  key: DataKey,
  context: RecordContext,
  plaintext: Uint8Array,
): Buffer {
  const header = writeEnvelopeHeader(key.keyId, key.version);
  const iv = randomBytes(envelopeLayout.ivBytes);

  const aad = buildRecordAad(header, context);
  const sealed = gcmSeal(key.material.bytes, { iv, aad, plaintext });

  return Buffer.concat(
    [header, iv, sealed.ciphertext, sealed.tag],
    envelopeLayout.overheadBytes + sealed.ciphertext.length,
  );
}

/**
 * Decrypts one envelope. The key must be the one the header names.
 *
 * @param key - the DEK the envelope's header names
 * @param context - where the record was read from
 * @param envelope - the stored bytes
 * @returns the plaintext
 * @throws RekeyError `REKEY_ENVELOPE_MALFORMED` for bytes that are not an
 *   envelope, `REKEY_KEY_MISMATCH` when the header names another key, and
 *   `REKEY_CIPHERTEXT_AUTH_FAILED` when authentication fails
 */
export function decryptRecord(
  key: DataKey,
  context: RecordContext,
  envelope: Uint8Array,
): Buffer {
  const parts = splitEnvelope(envelope);
  if (parts.keyId !== key.keyId || parts.keyVersion !== key.version) {
    throw new RekeyError(
      'REKEY_KEY_MISMATCH',
      `the ciphertext of row ${String(context.rowId)} names key ${parts.keyId} version ${parts.keyVersion}, but key ${key.keyId} version ${key.version} was offered; pick the key by the envelope header`,
      { details: { keyId: parts.keyId, keyVersion: parts.keyVersion } },
    );
  }

  const aad = buildRecordAad(parts.header, context);
  const plaintext = gcmOpen(key.material.bytes, {
    iv: parts.iv,
    aad,
    ciphertext: parts.ciphertext,
    tag: parts.tag,
  });
  if (!plaintext) {
    throw new RekeyError(
      'REKEY_CIPHERTEXT_AUTH_FAILED',
      `the ciphertext of tenant ${context.tenantId}, ${context.table}.${context.column}, row ${String(context.rowId)} failed authentication under key ${key.keyId} version ${key.version}: it was altered, or copied from another row, column or tenant; it was not decrypted`,
      { details: { keyId: key.keyId, keyVersion: key.version } },
    );
  }

  return plaintext;
}
