import { RekeyError } from '@rekey/core';
import pkcs11js from 'pkcs11js';

import {
  aesKeyBytes,
  masterKeyCheckTemplate,
  secretKeyByLabelTemplate,
} from './key-templates.js';
import { pkcs11CallSync } from './pkcs11-errors.js';
import type { Pkcs11Handle, Pkcs11Module } from './pkcs11-module.js';
import { findObjects, readBoolean, readUlong } from './pkcs11-objects.js';

/**
 * Look-up of a master key on the token by label. A key that merely shares
 * the label but could leak what it wraps (extractable, not sensitive) or
 * cannot wrap is refused rather than used.
 *
 * @internal
 */

/**
 * Finds the master key labelled `label`.
 *
 * @param module - the loaded module
 * @param session - a logged-in session
 * @param label - the key's CKA_LABEL
 * @returns its handle, or `undefined` when no secret key has the label
 * @throws RekeyError `REKEY_HSM_OPERATION_FAILED` when several secret keys
 *   have the label; `REKEY_HSM_KEY_NOT_FOUND` when the one that has it is
 *   not fit to be a master key
 */
export function findMasterKey(
  module: Pkcs11Module,
  session: Pkcs11Handle,
  label: string,
): Pkcs11Handle | undefined {
  const found = findObjects(module, session, secretKeyByLabelTemplate(label));
  if (found.length === 0) return undefined;
  if (found.length > 1) {
    throw new RekeyError(
      'REKEY_HSM_OPERATION_FAILED',
      `${found.length} secret keys on the token are labelled "${label}": Rekey cannot tell which one wraps the KEKs; remove the key that is not in use`,
      { details: { label, keys: found.length } },
    );
  }

  const [key] = found as [Pkcs11Handle];
  const unfit = masterKeyFaults(module, session, key);
  if (unfit.length > 0) {
    throw new RekeyError(
      'REKEY_HSM_KEY_NOT_FOUND',
      `the secret key labelled "${label}" is not fit to be a master key (${unfit.join(', ')}): Rekey will not wrap keys under it; choose another label`,
      { details: { label, faults: unfit.join(',') } },
    );
  }

  return key;
}

/**
 * Like {@link findMasterKey}, but the key must exist.
 *
 * @throws RekeyError `REKEY_HSM_KEY_NOT_FOUND` when no key has the label
 */
export function requireMasterKey(
  module: Pkcs11Module,
  session: Pkcs11Handle,
  label: string,
): Pkcs11Handle {
  const key = findMasterKey(module, session, label);
  if (key !== undefined) return key;

  throw new RekeyError(
    'REKEY_HSM_KEY_NOT_FOUND',
    `no master key labelled "${label}" is on the token: create it (ensureMasterKey, or the CLI's HSM initialisation) or fix the label`,
    { details: { label } },
  );
}

function masterKeyFaults(
  module: Pkcs11Module,
  session: Pkcs11Handle,
  key: Pkcs11Handle,
): string[] {
  const values = pkcs11CallSync('C_GetAttributeValue', () =>
    module.C_GetAttributeValue(session, key, masterKeyCheckTemplate()),
  );

  const faults: string[] = [];
  if (readUlong(values, pkcs11js.CKA_KEY_TYPE) !== pkcs11js.CKK_AES) {
    faults.push('not an AES key');
  }
  if (readUlong(values, pkcs11js.CKA_VALUE_LEN) !== aesKeyBytes) {
    faults.push('not 256 bits');
  }
  if (readBoolean(values, pkcs11js.CKA_SENSITIVE) !== true) {
    faults.push('not sensitive');
  }
  if (readBoolean(values, pkcs11js.CKA_EXTRACTABLE) !== false) {
    faults.push('extractable');
  }
  if (readBoolean(values, pkcs11js.CKA_WRAP) !== true) faults.push('no wrap');
  if (readBoolean(values, pkcs11js.CKA_UNWRAP) !== true) {
    faults.push('no unwrap');
  }

  return faults;
}
