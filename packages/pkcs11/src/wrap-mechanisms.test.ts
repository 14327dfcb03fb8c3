import { isRekeyError } from '@rekey/core';
import pkcs11js from 'pkcs11js';
import { describe, expect, it } from 'vitest';

import { resolvePkcs11HsmOptions } from './pkcs11-hsm-options.js';
import { wrapMechanismSpec, wrapMechanismSpecs } from './wrap-mechanisms.js';

describe('wrap mechanisms', () => {
  it('sizes the wrap of an AES-256 key at 40 bytes under KW and KWP', () => {
    expect(wrapMechanismSpecs['aes-key-wrap'].wrappedBytes(32)).toBe(40);
    expect(wrapMechanismSpecs['aes-key-wrap-pad'].wrappedBytes(32)).toBe(40);
  });

  it('pads to whole blocks under KWP, as in RFC 5649', () => {
    // RFC 5649 section 6: a 20-octet key wraps to 32 octets, 7 to 16.
    expect(wrapMechanismSpecs['aes-key-wrap-pad'].wrappedBytes(20)).toBe(32);
    expect(wrapMechanismSpecs['aes-key-wrap-pad'].wrappedBytes(7)).toBe(16);
  });

  it('maps each name to its CKM code', () => {
    expect(wrapMechanismSpec('aes-key-wrap-pad').ckm).toBe(
      pkcs11js.CKM_AES_KEY_WRAP_PAD,
    );
    expect(wrapMechanismSpec('aes-key-wrap').ckm).toBe(
      pkcs11js.CKM_AES_KEY_WRAP,
    );
  });

  it('refuses a mechanism Rekey cannot wrap with, naming the ones it can', () => {
    const attempt = (): unknown => wrapMechanismSpec('aes-cbc-pad');

    expect(attempt).toThrow(/'aes-key-wrap-pad', 'aes-key-wrap'/);
    try {
      attempt();
    } catch (error) {
      expect(isRekeyError(error, 'REKEY_HSM_MECHANISM_UNSUPPORTED')).toBe(true);
    }
  });
});

describe('Pkcs11Hsm options', () => {
  const base = { modulePath: '/lib/x.so', tokenLabel: 't', pin: '8642' };

  it('defaults to RFC 5649 key wrap and four sessions', () => {
    const { config } = resolvePkcs11HsmOptions(base);

    expect(config.wrap.mechanism).toBe('aes-key-wrap-pad');
    expect(config.maxSessions).toBe(4);
    expect(Object.isFrozen(config)).toBe(true);
    expect(JSON.stringify(config)).not.toContain('8642');
  });

  it('names a bad option without echoing the PIN', () => {
    try {
      resolvePkcs11HsmOptions({ ...base, tokenLabel: ' ', pin: '8642' });
      expect.unreachable();
    } catch (error) {
      expect(isRekeyError(error, 'REKEY_CONFIG_INVALID')).toBe(true);
      expect(String(error)).not.toContain('8642');
    }
    expect(() => resolvePkcs11HsmOptions({ ...base, pin: '' })).toThrow(
      /PIN is missing/,
    );
    expect(() => resolvePkcs11HsmOptions({ ...base, maxSessions: 0 })).toThrow(
      /maxSessions/,
    );
  });
});
