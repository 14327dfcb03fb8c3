import pkcs11js from 'pkcs11js';

import type { Pkcs11Attribute } from './pkcs11-module.js';

/**
 * Every attribute template Rekey hands the HSM, in one place. Each states
 * its attributes explicitly: an omitted attribute takes the token's default,
 * and a default such as CKA_EXTRACTABLE=true on an unwrapped key would let
 * anyone logged in wrap that key out under any key of their choosing.
 *
 * Each function returns a fresh array, since pkcs11js may rewrite the
 * attributes it is given.
 */

/** Bytes of every AES key Rekey makes: AES-256. */
export const aesKeyBytes = 32;

function secretAesKey(): Pkcs11Attribute[] {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
  ];
}

/** Every use flag of a secret key, set as given. */
function uses(flags: {
  readonly encrypt: boolean;
  readonly decrypt: boolean;
  readonly wrap: boolean;
  readonly unwrap: boolean;
}): Pkcs11Attribute[] {
  return [
    { type: pkcs11js.CKA_ENCRYPT, value: flags.encrypt },
    { type: pkcs11js.CKA_DECRYPT, value: flags.decrypt },
    { type: pkcs11js.CKA_WRAP, value: flags.wrap },
    { type: pkcs11js.CKA_UNWRAP, value: flags.unwrap },
    { type: pkcs11js.CKA_SIGN, value: false },
    { type: pkcs11js.CKA_VERIFY, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
  ];
}

/**
 * The master key, generated on the token (`C_GenerateKey`, CKM_AES_KEY_GEN).
 * It never leaves the HSM: sensitive and non-extractable, both of which the
 * token then keeps read-only, and usable only to wrap and unwrap KEKs.
 * CKA_MODIFIABLE=false freezes the rest, its label included, so the key
 * Rekey finds under a label stays the one it made.
 *
 * @param label - the key's CKA_LABEL, how Rekey finds it
 * @param id - the key's CKA_ID
 */
export function masterKeyTemplate(
  label: string,
  id: Buffer,
): Pkcs11Attribute[] {
  return [
    ...secretAesKey(),
    { type: pkcs11js.CKA_VALUE_LEN, value: aesKeyBytes },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_MODIFIABLE, value: false },
    ...uses({ encrypt: false, decrypt: false, wrap: true, unwrap: true }),
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: id },
  ];
}

/**
 * A new KEK, generated as a session object only to be wrapped under the
 * master key and destroyed right after. Extractable because `C_WrapKey`
 * needs that; sensitive so its value cannot be read meanwhile. It is never
 * used for anything else, so every use flag is off.
 */
export function kekGenerateTemplate(): Pkcs11Attribute[] {
  return [
    ...secretAesKey(),
    { type: pkcs11js.CKA_VALUE_LEN, value: aesKeyBytes },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: true },
    ...uses({ encrypt: false, decrypt: false, wrap: false, unwrap: false }),
  ];
}

/**
 * A KEK unwrapped from its master key into a session object, kept while the
 * adapter is open. Sensitive and non-extractable: it can neither be read nor
 * wrapped out, and it only wraps and unwraps DEKs. CKA_WRAP_WITH_TRUSTED is
 * set as well, so that even a later change to extractable could only ever
 * wrap it under a key the security officer marked trusted. CKA_VALUE_LEN is
 * left out because SoftHSM2 refuses it on unwrap (CKR_ATTRIBUTE_READ_ONLY):
 * the length comes from the wrapped bytes.
 */
export function kekUnwrapTemplate(): Pkcs11Attribute[] {
  return [
    ...secretAesKey(),
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_WRAP_WITH_TRUSTED, value: true },
    ...uses({ encrypt: false, decrypt: false, wrap: true, unwrap: true }),
  ];
}

/**
 * A new DEK, generated as a session object only to be wrapped under its KEK
 * and destroyed right after. Extractable because `C_WrapKey` needs that;
 * sensitive so its value cannot be read meanwhile. It may encrypt and
 * decrypt, as a DEK does; it wraps nothing.
 */
export function dekGenerateTemplate(): Pkcs11Attribute[] {
  return [
    ...secretAesKey(),
    { type: pkcs11js.CKA_VALUE_LEN, value: aesKeyBytes },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: true },
    ...uses({ encrypt: true, decrypt: true, wrap: false, unwrap: false }),
  ];
}

/**
 * A DEK unwrapped only so that its value can be read, for row encryption in
 * the application, and destroyed right after.
 *
 * The value of a key can be read only when it is neither sensitive nor
 * unextractable, so this template must say CKA_SENSITIVE=false and
 * CKA_EXTRACTABLE=true; the defaults of both differ between tokens
 * (SoftHSM2 2.6.1 makes an unwrapped key unextractable unless told
 * otherwise, and the read then fails). An extractable key could be wrapped
 * out under any wrapping key; CKA_WRAP_WITH_TRUSTED=true forbids that for
 * every key the security officer has not marked trusted (SoftHSM2 then
 * answers CKR_KEY_NOT_WRAPPABLE), and the token keeps that attribute
 * read-only once true. The object has no use in the HSM, so every use flag
 * is off.
 */
export function dekReadTemplate(): Pkcs11Attribute[] {
  return [
    ...secretAesKey(),
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: false },
    { type: pkcs11js.CKA_EXTRACTABLE, value: true },
    { type: pkcs11js.CKA_WRAP_WITH_TRUSTED, value: true },
    ...uses({ encrypt: false, decrypt: false, wrap: false, unwrap: false }),
  ];
}

/**
 * Matches every secret key on the token with the given label, whatever its
 * type, so that a look-up for a master key also sees keys that merely share
 * its label.
 *
 * @param label - the CKA_LABEL to match
 */
export function secretKeyByLabelTemplate(label: string): Pkcs11Attribute[] {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
  ];
}

/** The attributes read to check that a key is fit to be a master key. */
export function masterKeyCheckTemplate(): Pkcs11Attribute[] {
  return [
    { type: pkcs11js.CKA_KEY_TYPE },
    { type: pkcs11js.CKA_VALUE_LEN },
    { type: pkcs11js.CKA_SENSITIVE },
    { type: pkcs11js.CKA_EXTRACTABLE },
    { type: pkcs11js.CKA_WRAP },
    { type: pkcs11js.CKA_UNWRAP },
  ];
}
