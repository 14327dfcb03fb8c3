import { createCipheriv, createDecipheriv } from 'node:crypto';

import { envelopeLayout } from '../envelope/envelope-format.js';

const algorithm = 'aes-256-gcm';

/**
 * AES-256-GCM with a 96-bit IV and a 128-bit tag, the only parameters Rekey
 * uses. The IV and tag lengths are checked here because OpenSSL would accept
 * others.
 *
 * @internal
 */
export function gcmSeal(
  key: Buffer,
  input: {
    readonly iv: Buffer;
    readonly aad: Buffer;
    readonly plaintext: Uint8Array;
  },
): { readonly ciphertext: Buffer; readonly tag: Buffer } {
  const { iv, aad, plaintext } = input;
  assertIv(iv);

  const cipher = createCipheriv(algorithm, key, iv, {
    authTagLength: envelopeLayout.tagBytes,
  });
  cipher.setAAD(aad);
  const ciphertext = cipher.update(plaintext);
  cipher.final();

  return { ciphertext, tag: cipher.getAuthTag() };
}

/**
 * Opens what {@link gcmSeal} sealed.
 *
 * @returns the plaintext, or null when authentication fails
 * @internal
 */
export function gcmOpen(
  key: Buffer,
  sealed: {
    readonly iv: Buffer;
    readonly aad: Buffer;
    readonly ciphertext: Buffer;
    readonly tag: Buffer;
  },
): Buffer | null {
  const { iv, aad } = sealed;
  assertIv(iv);
  if (sealed.tag.length !== envelopeLayout.tagBytes) return null;

  const decipher = createDecipheriv(algorithm, key, iv, {
    authTagLength: envelopeLayout.tagBytes,
  });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  const plaintext = decipher.update(sealed.ciphertext);
  try {
    decipher.final();
  } catch {
    // OpenSSL reports a failed tag check only as a thrown error; the
    // plaintext it already produced is unauthenticated and is wiped.
    plaintext.fill(0);

    return null;
  }

  return plaintext;
}

function assertIv(iv: Buffer): void {
  if (iv.length !== envelopeLayout.ivBytes) {
    throw new RangeError(
      `AES-GCM IV must have ${envelopeLayout.ivBytes} bytes, got ${iv.length}`,
    );
  }
}
