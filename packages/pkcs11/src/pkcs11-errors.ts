import { type ErrorCode, RekeyError } from '@rekey/core';
import pkcs11js from 'pkcs11js';

/**
 * Translation of PKCS#11 failures into Rekey error codes, in one place.
 *
 * pkcs11js raises a `Pkcs11Error` whose numeric `code` is the CKR return
 * value; only that number is read here, never the message text. The
 * translated error carries the CKR name and number and the PKCS#11 function
 * in its details, and nothing else from the vendor error: no cause, no
 * message, so no PIN, key or wrapped bytes can travel with it.
 */

/**
 * PKCS#11 v2.40 return codes that pkcs11js 2.1.7 does not define. SoftHSM2
 * answers a change to an object with CKA_MODIFIABLE=false with
 * CKR_ACTION_PROHIBITED.
 */
const CKR_ACTION_PROHIBITED = 0x1b;
const CKR_CURVE_NOT_SUPPORTED = 0x140;

/** The CKR name of every return code pkcs11js knows, by number. */
const ckrNames: ReadonlyMap<number, string> = (() => {
  const names = new Map<number, string>([
    [CKR_ACTION_PROHIBITED, 'CKR_ACTION_PROHIBITED'],
    [CKR_CURVE_NOT_SUPPORTED, 'CKR_CURVE_NOT_SUPPORTED'],
  ]);
  for (const [name, value] of Object.entries(pkcs11js)) {
    if (!name.startsWith('CKR_') || typeof value !== 'number') continue;
    if (!names.has(value)) names.set(value, name);
  }

  return names;
})();

interface Translation {
  readonly code: ErrorCode;
  /** What happened and what to do; `call` reads like `C_Login`. */
  readonly message: (call: string) => string;
}

function translation(
  code: ErrorCode,
  message: (call: string) => string,
): Translation {
  return { code, message };
}

const pinRejected = translation(
  'REKEY_HSM_PIN_INCORRECT',
  (call) =>
    `the token rejected the user PIN (${call}): check the PIN configured for this token; the token locks the PIN after repeated failures`,
);
const sessionLost = translation(
  'REKEY_HSM_SESSION_LOST',
  (call) =>
    `the HSM session or device went away (${call}): the work may be retried; if this persists, check that the token is present and the HSM reachable`,
);
const busy = translation(
  'REKEY_HSM_BUSY',
  (call) =>
    `the HSM could not serve the request right now (${call}): retry later, or lower the number of concurrent HSM sessions`,
);
const mechanismUnsupported = translation(
  'REKEY_HSM_MECHANISM_UNSUPPORTED',
  (call) =>
    `the token does not support the mechanism, or its parameters, for this key (${call}): configure a wrap mechanism the token lists with wrap and unwrap flags`,
);
const handleInvalid = translation(
  'REKEY_HSM_OPERATION_FAILED',
  (call) =>
    `an HSM object handle is no longer valid (${call}): the token was logged out or reset; reopen the HSM connection`,
);
const templateRefused = translation(
  'REKEY_HSM_OPERATION_FAILED',
  (call) =>
    `the token refused a key attribute template (${call}): the HSM does not accept the attributes Rekey sets; check its key policy`,
);
const keyUseForbidden = translation(
  'REKEY_HSM_OPERATION_FAILED',
  (call) =>
    `the key's attributes forbid this use (${call}): a key created outside Rekey may carry the wrong attributes; check the key on the token`,
);

const translations: ReadonlyMap<number, Translation> = new Map([
  [pkcs11js.CKR_PIN_INCORRECT, pinRejected],
  [
    pkcs11js.CKR_PIN_INVALID,
    translation(
      'REKEY_HSM_PIN_INCORRECT',
      (call) =>
        `the configured user PIN has characters the token does not accept (${call}): check the PIN configured for this token`,
    ),
  ],
  [
    pkcs11js.CKR_PIN_LEN_RANGE,
    translation(
      'REKEY_HSM_PIN_INCORRECT',
      (call) =>
        `the configured user PIN is shorter or longer than the token allows (${call}): check the PIN configured for this token`,
    ),
  ],
  [
    pkcs11js.CKR_PIN_EXPIRED,
    translation(
      'REKEY_HSM_PIN_INCORRECT',
      (call) =>
        `the token reports that the user PIN has expired (${call}): set a new PIN with the token's tools, then update the configuration`,
    ),
  ],
  [
    pkcs11js.CKR_USER_PIN_NOT_INITIALIZED,
    translation(
      'REKEY_HSM_PIN_INCORRECT',
      (call) =>
        `the token has no user PIN yet (${call}): initialise the user PIN with the security officer PIN first`,
    ),
  ],
  [
    pkcs11js.CKR_PIN_LOCKED,
    translation(
      'REKEY_HSM_PIN_LOCKED',
      (call) =>
        `the token has locked the user PIN (${call}): the security officer must unlock or reset it before Rekey can log in`,
    ),
  ],

  [pkcs11js.CKR_SESSION_HANDLE_INVALID, sessionLost],
  [pkcs11js.CKR_SESSION_CLOSED, sessionLost],
  [pkcs11js.CKR_DEVICE_REMOVED, sessionLost],
  [pkcs11js.CKR_DEVICE_ERROR, sessionLost],
  [pkcs11js.CKR_TOKEN_NOT_PRESENT, sessionLost],
  [pkcs11js.CKR_USER_NOT_LOGGED_IN, sessionLost],
  [
    pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
    translation(
      'REKEY_HSM_SESSION_LOST',
      (call) =>
        `the PKCS#11 module is not initialised (${call}): something in this process finalised it; the work may be retried after the process restarts`,
    ),
  ],

  [pkcs11js.CKR_DEVICE_MEMORY, busy],
  [pkcs11js.CKR_HOST_MEMORY, busy],
  [pkcs11js.CKR_FUNCTION_CANCELED, busy],
  [pkcs11js.CKR_SESSION_COUNT, busy],

  [pkcs11js.CKR_MECHANISM_INVALID, mechanismUnsupported],
  [pkcs11js.CKR_MECHANISM_PARAM_INVALID, mechanismUnsupported],
  [pkcs11js.CKR_FUNCTION_NOT_SUPPORTED, mechanismUnsupported],
  [pkcs11js.CKR_KEY_TYPE_INCONSISTENT, mechanismUnsupported],
  [pkcs11js.CKR_WRAPPING_KEY_TYPE_INCONSISTENT, mechanismUnsupported],
  [pkcs11js.CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, mechanismUnsupported],

  [pkcs11js.CKR_KEY_HANDLE_INVALID, handleInvalid],
  [pkcs11js.CKR_OBJECT_HANDLE_INVALID, handleInvalid],
  [pkcs11js.CKR_WRAPPING_KEY_HANDLE_INVALID, handleInvalid],
  [pkcs11js.CKR_UNWRAPPING_KEY_HANDLE_INVALID, handleInvalid],

  [pkcs11js.CKR_TEMPLATE_INCOMPLETE, templateRefused],
  [pkcs11js.CKR_TEMPLATE_INCONSISTENT, templateRefused],
  [pkcs11js.CKR_ATTRIBUTE_READ_ONLY, templateRefused],
  [pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID, templateRefused],
  [pkcs11js.CKR_ATTRIBUTE_VALUE_INVALID, templateRefused],

  [pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED, keyUseForbidden],
  [pkcs11js.CKR_KEY_UNEXTRACTABLE, keyUseForbidden],
  [pkcs11js.CKR_KEY_NOT_WRAPPABLE, keyUseForbidden],
  [pkcs11js.CKR_ATTRIBUTE_SENSITIVE, keyUseForbidden],
  [CKR_ACTION_PROHIBITED, keyUseForbidden],
]);

/**
 * Integrity failures on unwrap. SoftHSM2 answers a tampered or foreign
 * wrapped key with CKR_GENERAL_ERROR; other HSMs use the specific codes.
 */
const unwrapIntegrityCodes: ReadonlySet<number> = new Set([
  pkcs11js.CKR_GENERAL_ERROR,
  pkcs11js.CKR_WRAPPED_KEY_INVALID,
  pkcs11js.CKR_WRAPPED_KEY_LEN_RANGE,
  pkcs11js.CKR_ENCRYPTED_DATA_INVALID,
  pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE,
]);

/**
 * Return codes after which reopening the sessions, logging in again and
 * repeating the operation once may succeed: the session or the login went
 * away, or the handles of objects found or made in it did.
 */
const sessionFailureCodes: ReadonlySet<number> = new Set([
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_DEVICE_ERROR,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_USER_NOT_LOGGED_IN,
  pkcs11js.CKR_KEY_HANDLE_INVALID,
  pkcs11js.CKR_OBJECT_HANDLE_INVALID,
  pkcs11js.CKR_WRAPPING_KEY_HANDLE_INVALID,
  pkcs11js.CKR_UNWRAPPING_KEY_HANDLE_INVALID,
]);

/**
 * The CKR name of a PKCS#11 return code, or its hex value when pkcs11js
 * does not know it (vendor-defined codes).
 *
 * @param code - a CKR return value
 * @returns a name such as `CKR_PIN_INCORRECT`
 */
export function ckrName(code: number): string {
  return ckrNames.get(code) ?? `CKR_0x${code.toString(16).padStart(8, '0')}`;
}

/**
 * The numeric CKR code of a pkcs11js failure, read from its `code`
 * property; `undefined` for anything else.
 *
 * @param error - anything caught from a pkcs11js call
 */
export function pkcs11ReturnCode(error: unknown): number | undefined {
  if (!(error instanceof Error) || error.name !== 'Pkcs11Error') {
    return undefined;
  }
  const code = (error as Error & { code?: unknown }).code;

  return typeof code === 'number' && code !== 0 ? code : undefined;
}

/**
 * Translates a failure of one PKCS#11 call into a {@link RekeyError}.
 * A `RekeyError` passes through unchanged.
 *
 * @param error - what the pkcs11js call threw or rejected with
 * @param method - the PKCS#11 function called, e.g. `C_UnwrapKey`; it
 *   decides how ambiguous codes read (CKR_GENERAL_ERROR from `C_UnwrapKey`
 *   is an integrity failure)
 * @returns an error whose details are `{ ckr, ckrCode, method }`
 */
export function translatePkcs11Error(
  error: unknown,
  method: string,
): RekeyError {
  if (error instanceof RekeyError) return error;

  const code = pkcs11ReturnCode(error);
  if (code === undefined) {
    return new RekeyError(
      'REKEY_HSM_OPERATION_FAILED',
      `${method} failed without a PKCS#11 return code: the PKCS#11 binding refused the call`,
      {
        details: {
          method,
          vendorError: error instanceof Error ? error.name : typeof error,
        },
      },
    );
  }

  const ckr = ckrName(code);
  const call = `${ckr} from ${method}`;
  const details = { ckr, ckrCode: code, method };
  if (method === 'C_UnwrapKey' && unwrapIntegrityCodes.has(code)) {
    return new RekeyError(
      'REKEY_HSM_UNWRAP_FAILED',
      `the HSM could not unwrap the key (${call}): the wrapped bytes were altered or were wrapped under another key or mechanism; restore them from a trusted copy`,
      { details },
    );
  }

  const known = translations.get(code);
  if (known === undefined) {
    return new RekeyError(
      'REKEY_HSM_OPERATION_FAILED',
      `the HSM refused the operation (${call}): see the token's documentation for this return code`,
      { details },
    );
  }

  return new RekeyError(known.code, known.message(call), { details });
}

/**
 * Whether a translated error means the session or login went away, so that
 * reopening sessions and repeating the operation once may succeed.
 *
 * @param error - anything caught
 */
export function isSessionFailure(error: unknown): boolean {
  if (!(error instanceof RekeyError)) return false;
  const code = error.details.ckrCode;

  return typeof code === 'number' && sessionFailureCodes.has(code);
}

/**
 * The error for an operation whose session was lost again after the
 * adapter reopened its sessions and logged in.
 *
 * @param failure - the translated failure of the second attempt
 * @returns a retryable `REKEY_HSM_SESSION_LOST` carrying its details
 */
export function sessionLostAfterRetry(
  failure: RekeyError | undefined,
): RekeyError {
  const ckr = String(failure?.details.ckr ?? 'unknown');
  const method = String(failure?.details.method ?? 'unknown');

  return new RekeyError(
    'REKEY_HSM_SESSION_LOST',
    `the HSM dropped the session again after Rekey reopened it and logged in (${ckr} from ${method}): the work may be retried; if this persists, check that the token is present and the HSM reachable`,
    { cause: failure, details: { ...failure?.details, attempts: 2 } },
  );
}

/**
 * Runs one PKCS#11 call and translates its failure.
 *
 * @param method - the PKCS#11 function, for the error's details
 * @param call - the call itself
 * @returns what the call returns
 * @throws RekeyError translated by {@link translatePkcs11Error}
 * @internal
 */
export async function pkcs11Call<T>(
  method: string,
  call: () => T | Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw translatePkcs11Error(error, method);
  }
}

/**
 * The synchronous form of {@link pkcs11Call}.
 *
 * @internal
 */
export function pkcs11CallSync<T>(method: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw translatePkcs11Error(error, method);
  }
}

/**
 * Whether `error`, as pkcs11js raised it or as translated here, carries the
 * given CKR code.
 *
 * @param error - anything caught from a pkcs11js call
 * @param code - a CKR return value
 * @internal
 */
export function hasReturnCode(error: unknown, code: number): boolean {
  if (error instanceof RekeyError) return error.details.ckrCode === code;

  return pkcs11ReturnCode(error) === code;
}
