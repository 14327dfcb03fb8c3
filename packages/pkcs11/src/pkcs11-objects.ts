import { endianness } from 'node:os';

import { pkcs11CallSync } from './pkcs11-errors.js';
import type {
  Pkcs11Attribute,
  Pkcs11AttributeValue,
  Pkcs11Handle,
  Pkcs11Module,
} from './pkcs11-module.js';

/**
 * Object search and attribute decoding shared by the adapter and the token
 * tools.
 *
 * @internal
 */

/** At most this many handles are fetched per `C_FindObjects` call. */
const findBatchSize = 64;

/**
 * Finds the objects that match `template`, visible to `session`.
 *
 * @param module - the loaded module
 * @param session - a session no other search is running on
 * @param template - the attributes to match
 * @returns the handles found, possibly none
 * @throws RekeyError translated from the CKR code
 */
export function findObjects(
  module: Pkcs11Module,
  session: Pkcs11Handle,
  template: Pkcs11Attribute[],
): Pkcs11Handle[] {
  pkcs11CallSync('C_FindObjectsInit', () =>
    module.C_FindObjectsInit(session, template),
  );

  let found: Pkcs11Handle[];
  try {
    found = collectFound(module, session);
  } catch (error) {
    // End the search if the session still allows it, and report the
    // search's own failure: a failing C_FindObjectsFinal here has the same
    // cause, so its error adds nothing.
    try {
      module.C_FindObjectsFinal(session);
    } catch {
      // see above
    }
    throw error;
  }

  pkcs11CallSync('C_FindObjectsFinal', () =>
    module.C_FindObjectsFinal(session),
  );

  return found;
}

function collectFound(
  module: Pkcs11Module,
  session: Pkcs11Handle,
): Pkcs11Handle[] {
  const found: Pkcs11Handle[] = [];
  for (;;) {
    const batch = pkcs11CallSync('C_FindObjects', () =>
      module.C_FindObjects(session, findBatchSize),
    );
    found.push(...batch);
    if (batch.length < findBatchSize) break;
  }

  return found;
}

/**
 * Reads a CK_BBOOL attribute.
 *
 * @param values - what `C_GetAttributeValue` returned
 * @param type - the CKA_* type to read
 * @returns the value, or `undefined` when absent
 */
export function readBoolean(
  values: readonly Pkcs11AttributeValue[],
  type: number,
): boolean | undefined {
  const value = values.find((v) => v.type === type)?.value;
  if (value === undefined || value.length === 0) return undefined;

  return value[0] !== 0;
}

/**
 * Reads a CK_ULONG attribute, in the platform's byte order and width.
 *
 * @param values - what `C_GetAttributeValue` returned
 * @param type - the CKA_* type to read
 * @returns the value, or `undefined` when absent
 */
export function readUlong(
  values: readonly Pkcs11AttributeValue[],
  type: number,
): number | undefined {
  const value = values.find((v) => v.type === type)?.value;
  if (value === undefined) return undefined;

  const littleEndian = endianness() === 'LE';
  if (value.length === 8) {
    return Number(
      littleEndian ? value.readBigUInt64LE() : value.readBigUInt64BE(),
    );
  }
  if (value.length === 4) {
    return littleEndian ? value.readUInt32LE() : value.readUInt32BE();
  }

  return undefined;
}
