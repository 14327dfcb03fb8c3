import { inspect } from 'node:util';

import { type ErrorCode, RekeyError } from '@rekey/core';
import pkcs11js from 'pkcs11js';
import { describe, expect, it } from 'vitest';

import {
  ckrName,
  hasReturnCode,
  isSessionFailure,
  pkcs11ReturnCode,
  sessionLostAfterRetry,
  translatePkcs11Error,
} from './pkcs11-errors.js';

/** A failure as pkcs11js raises it, with a message that is not a CKR name. */
function vendorError(code: number, method = ''): Error {
  return new pkcs11js.Pkcs11Error('native failure', code, method);
}

function translated(code: number, method = 'C_WrapKey'): RekeyError {
  return translatePkcs11Error(vendorError(code), method);
}

const cases: ReadonlyArray<readonly [string, number, string, ErrorCode]> = [
  ['CKR_PIN_INCORRECT', 0xa0, 'C_Login', 'REKEY_HSM_PIN_INCORRECT'],
  ['CKR_PIN_INVALID', 0xa1, 'C_Login', 'REKEY_HSM_PIN_INCORRECT'],
  ['CKR_PIN_LEN_RANGE', 0xa2, 'C_Login', 'REKEY_HSM_PIN_INCORRECT'],
  ['CKR_PIN_EXPIRED', 0xa3, 'C_Login', 'REKEY_HSM_PIN_INCORRECT'],
  ['CKR_PIN_LOCKED', 0xa4, 'C_Login', 'REKEY_HSM_PIN_LOCKED'],
  ['CKR_SESSION_HANDLE_INVALID', 0xb3, 'C_WrapKey', 'REKEY_HSM_SESSION_LOST'],
  ['CKR_SESSION_CLOSED', 0xb0, 'C_UnwrapKey', 'REKEY_HSM_SESSION_LOST'],
  ['CKR_DEVICE_REMOVED', 0x32, 'C_GenerateKey', 'REKEY_HSM_SESSION_LOST'],
  ['CKR_DEVICE_ERROR', 0x30, 'C_WrapKey', 'REKEY_HSM_SESSION_LOST'],
  ['CKR_TOKEN_NOT_PRESENT', 0xe0, 'C_OpenSession', 'REKEY_HSM_SESSION_LOST'],
  ['CKR_USER_NOT_LOGGED_IN', 0x101, 'C_UnwrapKey', 'REKEY_HSM_SESSION_LOST'],
  ['CKR_DEVICE_MEMORY', 0x31, 'C_GenerateKey', 'REKEY_HSM_BUSY'],
  ['CKR_HOST_MEMORY', 0x02, 'C_UnwrapKey', 'REKEY_HSM_BUSY'],
  ['CKR_FUNCTION_CANCELED', 0x50, 'C_WrapKey', 'REKEY_HSM_BUSY'],
  ['CKR_GENERAL_ERROR', 0x05, 'C_UnwrapKey', 'REKEY_HSM_UNWRAP_FAILED'],
  ['CKR_WRAPPED_KEY_INVALID', 0x110, 'C_UnwrapKey', 'REKEY_HSM_UNWRAP_FAILED'],
  [
    'CKR_ENCRYPTED_DATA_INVALID',
    0x40,
    'C_UnwrapKey',
    'REKEY_HSM_UNWRAP_FAILED',
  ],
  [
    'CKR_WRAPPED_KEY_LEN_RANGE',
    0x112,
    'C_UnwrapKey',
    'REKEY_HSM_UNWRAP_FAILED',
  ],
  ['CKR_GENERAL_ERROR', 0x05, 'C_WrapKey', 'REKEY_HSM_OPERATION_FAILED'],
  ['CKR_WRAPPED_KEY_INVALID', 0x110, 'C_WrapKey', 'REKEY_HSM_OPERATION_FAILED'],
  [
    'CKR_MECHANISM_INVALID',
    0x70,
    'C_WrapKey',
    'REKEY_HSM_MECHANISM_UNSUPPORTED',
  ],
  [
    'CKR_MECHANISM_PARAM_INVALID',
    0x71,
    'C_UnwrapKey',
    'REKEY_HSM_MECHANISM_UNSUPPORTED',
  ],
  [
    'CKR_WRAPPING_KEY_TYPE_INCONSISTENT',
    0x115,
    'C_WrapKey',
    'REKEY_HSM_MECHANISM_UNSUPPORTED',
  ],
  ['CKR_KEY_UNEXTRACTABLE', 0x6a, 'C_WrapKey', 'REKEY_HSM_OPERATION_FAILED'],
  [
    'CKR_ATTRIBUTE_SENSITIVE',
    0x11,
    'C_GetAttributeValue',
    'REKEY_HSM_OPERATION_FAILED',
  ],
];

describe('translatePkcs11Error', () => {
  it.each(
    cases.map(([ckr, code, method, expected]) => ({
      ckr,
      code,
      method,
      expected,
    })),
  )('translates $ckr from $method into $expected', (row) => {
    const error = translated(row.code, row.method);

    expect(error).toBeInstanceOf(RekeyError);
    expect(error.code).toBe(row.expected);
    expect(error.details).toEqual({
      ckr: row.ckr,
      ckrCode: row.code,
      method: row.method,
    });
  });

  it('uses the CKR constants pkcs11js defines, by number', () => {
    for (const [ckr, code] of cases) {
      expect((pkcs11js as unknown as Record<string, number>)[ckr]).toBe(code);
    }
  });

  it('marks lost sessions and a busy HSM retryable, the rest permanent', () => {
    expect(translated(pkcs11js.CKR_SESSION_HANDLE_INVALID).retryable).toBe(
      true,
    );
    expect(translated(pkcs11js.CKR_DEVICE_MEMORY).retryable).toBe(true);
    expect(translated(pkcs11js.CKR_PIN_INCORRECT, 'C_Login').retryable).toBe(
      false,
    );
    expect(
      translated(pkcs11js.CKR_GENERAL_ERROR, 'C_UnwrapKey').retryable,
    ).toBe(false);
    expect(translated(pkcs11js.CKR_MECHANISM_INVALID).retryable).toBe(false);
  });

  it('reads the numeric code, never the message text', () => {
    const misleading = new pkcs11js.Pkcs11Error(
      'CKR_SESSION_HANDLE_INVALID',
      0,
      '',
    );
    (misleading as unknown as { code: number }).code = pkcs11js.CKR_PIN_LOCKED;

    expect(translatePkcs11Error(misleading, 'C_Login').code).toBe(
      'REKEY_HSM_PIN_LOCKED',
    );
  });

  it('names codes pkcs11js does not know by their hex value', () => {
    const error = translated(0x80000123);

    expect(error.code).toBe('REKEY_HSM_OPERATION_FAILED');
    expect(error.details.ckr).toBe('CKR_0x80000123');
    expect(ckrName(0xa0)).toBe('CKR_PIN_INCORRECT');
  });

  it('says what to do in every message', () => {
    for (const [, code, method] of cases) {
      const { message } = translated(code, method);

      expect(message).toMatch(/\): \S.{10,}$/);
    }
  });

  it('keeps nothing of the vendor error: no cause, message or stack', () => {
    const secret = 'pin-4321-and-key-bytes';
    const vendor = new pkcs11js.Pkcs11Error(secret, pkcs11js.CKR_PIN_INCORRECT);
    vendor.stack = `${secret}\n    at somewhere`;

    const error = translatePkcs11Error(vendor, 'C_Login');

    expect(error.cause).toBeUndefined();
    for (const dump of [
      error.message,
      JSON.stringify(error.details),
      JSON.stringify(error),
      inspect(error, { depth: 5 }),
    ]) {
      expect(dump).not.toContain(secret);
    }
  });

  it('translates failures without a CKR code without repeating them', () => {
    const error = translatePkcs11Error(
      new TypeError('Argument 3 has wrong type: 0011223344'),
      'C_UnwrapKey',
    );

    expect(error.code).toBe('REKEY_HSM_OPERATION_FAILED');
    expect(error.details).toEqual({
      method: 'C_UnwrapKey',
      vendorError: 'TypeError',
    });
    expect(error.message).not.toContain('0011223344');
  });

  it('names CKR_ACTION_PROHIBITED, which pkcs11js does not define', () => {
    const error = translated(0x1b, 'C_SetAttributeValue');

    expect(error.details.ckr).toBe('CKR_ACTION_PROHIBITED');
    expect(error.code).toBe('REKEY_HSM_OPERATION_FAILED');
  });

  it('passes a RekeyError through unchanged', () => {
    const original = new RekeyError('REKEY_HSM_KEY_NOT_FOUND', 'absent');

    expect(translatePkcs11Error(original, 'C_WrapKey')).toBe(original);
  });
});

describe('isSessionFailure', () => {
  it.each([
    pkcs11js.CKR_SESSION_HANDLE_INVALID,
    pkcs11js.CKR_SESSION_CLOSED,
    pkcs11js.CKR_DEVICE_REMOVED,
    pkcs11js.CKR_USER_NOT_LOGGED_IN,
    pkcs11js.CKR_TOKEN_NOT_PRESENT,
    pkcs11js.CKR_KEY_HANDLE_INVALID,
    pkcs11js.CKR_OBJECT_HANDLE_INVALID,
    pkcs11js.CKR_WRAPPING_KEY_HANDLE_INVALID,
    pkcs11js.CKR_UNWRAPPING_KEY_HANDLE_INVALID,
  ])('asks for a reopen and one retry after code %i', (code) => {
    expect(isSessionFailure(translated(code))).toBe(true);
  });

  it.each([
    pkcs11js.CKR_PIN_INCORRECT,
    pkcs11js.CKR_GENERAL_ERROR,
    pkcs11js.CKR_MECHANISM_INVALID,
    pkcs11js.CKR_DEVICE_MEMORY,
  ])('does not retry after code %i', (code) => {
    expect(isSessionFailure(translated(code, 'C_UnwrapKey'))).toBe(false);
  });

  it('ignores errors that are not translated PKCS#11 failures', () => {
    expect(isSessionFailure(new Error('CKR_SESSION_HANDLE_INVALID'))).toBe(
      false,
    );
  });
});

describe('return codes', () => {
  it('reads the code of raw and translated failures alike', () => {
    const raw = vendorError(pkcs11js.CKR_USER_ALREADY_LOGGED_IN);

    expect(pkcs11ReturnCode(raw)).toBe(pkcs11js.CKR_USER_ALREADY_LOGGED_IN);
    expect(hasReturnCode(raw, pkcs11js.CKR_USER_ALREADY_LOGGED_IN)).toBe(true);
    expect(
      hasReturnCode(
        translatePkcs11Error(raw, 'C_Login'),
        pkcs11js.CKR_USER_ALREADY_LOGGED_IN,
      ),
    ).toBe(true);
    expect(pkcs11ReturnCode(new Error('CKR_PIN_INCORRECT:160'))).toBe(
      undefined,
    );
  });
});

describe('sessionLostAfterRetry', () => {
  it('is retryable and names the return code of the last attempt', () => {
    const last = translated(pkcs11js.CKR_DEVICE_REMOVED, 'C_UnwrapKey');

    const error = sessionLostAfterRetry(last);

    expect(error.code).toBe('REKEY_HSM_SESSION_LOST');
    expect(error.retryable).toBe(true);
    expect(error.cause).toBe(last);
    expect(error.message).toContain('CKR_DEVICE_REMOVED from C_UnwrapKey');
    expect(error.details).toMatchObject({
      ckr: 'CKR_DEVICE_REMOVED',
      attempts: 2,
    });
  });
});
