import { RekeyError, type WrappedKey, type WrappingKey } from '@rekey/core';

import { aesKeyBytes } from './key-templates.js';
import {
  type WrapMechanismSpec,
  wrapMechanismSpec,
} from './wrap-mechanisms.js';

/**
 * Checks of what callers hand the adapter, made before the HSM sees it.
 *
 * @internal
 */

/**
 * Checks the shape of a wrapping key.
 *
 * @param under - as the caller gave it
 * @throws RekeyError `REKEY_INPUT_INVALID`
 */
export function checkWrappingKey(under: WrappingKey): void {
  if (under?.kind === 'master') {
    if (typeof under.label === 'string' && under.label !== '') return;
  } else if (under?.kind === 'kek') {
    if (
      Number.isSafeInteger(under.keyId) &&
      typeof under.masterLabel === 'string' &&
      under.masterLabel !== '' &&
      Buffer.isBuffer(under.wrapped?.bytes)
    ) {
      return;
    }
  }

  throw new RekeyError(
    'REKEY_INPUT_INVALID',
    'the wrapping key must be { kind: "master", label } or { kind: "kek", keyId, masterLabel, wrapped }',
  );
}

/**
 * The spec of the mechanism a wrapped key names, once its length is the
 * length of a wrapped AES-256 key under that mechanism.
 *
 * @param wrapped - a stored wrap
 * @param keyKind - what it holds, for the message
 * @throws RekeyError `REKEY_HSM_MECHANISM_UNSUPPORTED` for a mechanism
 *   Rekey does not know, `REKEY_HSM_UNWRAP_FAILED` for a wrong length
 */
export function checkedWrap(
  wrapped: WrappedKey,
  keyKind: 'kek' | 'dek',
): WrapMechanismSpec {
  const spec = wrapMechanismSpec(wrapped?.mechanism);
  const expected = spec.wrappedBytes(aesKeyBytes);
  const actual = Buffer.isBuffer(wrapped.bytes) ? wrapped.bytes.length : -1;
  if (actual !== expected) {
    throw new RekeyError(
      'REKEY_HSM_UNWRAP_FAILED',
      `a wrapped AES-256 ${keyKind.toUpperCase()} has ${expected} bytes under '${spec.mechanism}', got ${actual}: the stored wrap is damaged; restore it from a trusted copy`,
      { details: { keyKind, expectedBytes: expected, actualBytes: actual } },
    );
  }

  return spec;
}
