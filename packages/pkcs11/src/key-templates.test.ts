import pkcs11js from 'pkcs11js';
import { describe, expect, it } from 'vitest';

import {
  dekGenerateTemplate,
  dekReadTemplate,
  kekGenerateTemplate,
  kekUnwrapTemplate,
  masterKeyTemplate,
} from './key-templates.js';
import type { Pkcs11Attribute } from './pkcs11-module.js';

const templates: ReadonlyArray<readonly [string, () => Pkcs11Attribute[]]> = [
  ['master key', () => masterKeyTemplate('m', Buffer.from('m'))],
  ['KEK generation', kekGenerateTemplate],
  ['KEK unwrap', kekUnwrapTemplate],
  ['DEK generation', dekGenerateTemplate],
  ['DEK read', dekReadTemplate],
];

/** The attributes whose token defaults could weaken a key. */
const mustBeExplicit = [
  pkcs11js.CKA_CLASS,
  pkcs11js.CKA_KEY_TYPE,
  pkcs11js.CKA_TOKEN,
  pkcs11js.CKA_PRIVATE,
  pkcs11js.CKA_SENSITIVE,
  pkcs11js.CKA_EXTRACTABLE,
  pkcs11js.CKA_ENCRYPT,
  pkcs11js.CKA_DECRYPT,
  pkcs11js.CKA_WRAP,
  pkcs11js.CKA_UNWRAP,
  pkcs11js.CKA_SIGN,
  pkcs11js.CKA_VERIFY,
  pkcs11js.CKA_DERIVE,
];

function valueOf(
  template: Pkcs11Attribute[],
  type: number,
): Pkcs11Attribute['value'] {
  return template.find((attribute) => attribute.type === type)?.value;
}

describe('key templates', () => {
  it.each(templates)('the %s template states every attribute', (_, make) => {
    const template = make();
    const types = template.map((attribute) => attribute.type);

    for (const type of mustBeExplicit) expect(types).toContain(type);
    expect(new Set(types).size).toBe(types.length);
  });

  it('keeps the master key on the token, secret and for wrapping only', () => {
    const t = masterKeyTemplate('rekey-master', Buffer.from('rekey-master'));

    expect(valueOf(t, pkcs11js.CKA_TOKEN)).toBe(true);
    expect(valueOf(t, pkcs11js.CKA_SENSITIVE)).toBe(true);
    expect(valueOf(t, pkcs11js.CKA_EXTRACTABLE)).toBe(false);
    expect(valueOf(t, pkcs11js.CKA_WRAP)).toBe(true);
    expect(valueOf(t, pkcs11js.CKA_UNWRAP)).toBe(true);
    expect(valueOf(t, pkcs11js.CKA_ENCRYPT)).toBe(false);
    expect(valueOf(t, pkcs11js.CKA_DECRYPT)).toBe(false);
    expect(valueOf(t, pkcs11js.CKA_VALUE_LEN)).toBe(32);
    expect(valueOf(t, pkcs11js.CKA_LABEL)).toBe('rekey-master');
  });

  it('makes every generated or unwrapped key a session object', () => {
    for (const make of [
      kekGenerateTemplate,
      kekUnwrapTemplate,
      dekGenerateTemplate,
      dekReadTemplate,
    ]) {
      expect(valueOf(make(), pkcs11js.CKA_TOKEN)).toBe(false);
    }
  });

  it('never lets an unwrapped KEK be read or wrapped out', () => {
    const t = kekUnwrapTemplate();

    expect(valueOf(t, pkcs11js.CKA_SENSITIVE)).toBe(true);
    expect(valueOf(t, pkcs11js.CKA_EXTRACTABLE)).toBe(false);
    expect(valueOf(t, pkcs11js.CKA_WRAP_WITH_TRUSTED)).toBe(true);
    expect(valueOf(t, pkcs11js.CKA_VALUE_LEN)).toBeUndefined();
  });

  it('lets a DEK be read but wrapped out only under a trusted key', () => {
    const t = dekReadTemplate();

    expect(valueOf(t, pkcs11js.CKA_SENSITIVE)).toBe(false);
    expect(valueOf(t, pkcs11js.CKA_EXTRACTABLE)).toBe(true);
    expect(valueOf(t, pkcs11js.CKA_WRAP_WITH_TRUSTED)).toBe(true);
  });

  it('returns a fresh array on each call', () => {
    expect(kekUnwrapTemplate()).not.toBe(kekUnwrapTemplate());
  });
});
