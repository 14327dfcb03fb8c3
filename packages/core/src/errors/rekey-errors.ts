/**
 * Every error Rekey raises carries a stable code from this registry. Codes are
 * never reused; each says whether the work that hit it may be retried, and
 * each message tells the operator what to do. Vendor errors (CKR codes,
 * SQLSTATEs, HTTP statuses) are translated into these codes once, at the
 * adapter that meets them.
 */

/** How a job queue should treat a failure. */
export type Disposition = 'retryable' | 'permanent';

interface CodeSpec {
  readonly disposition: Disposition;
  /** One sentence that documents the code. */
  readonly doc: string;
}

/** The registry of error codes, each with its disposition and meaning. */
export const errorCodes = Object.freeze({
  REKEY_CONFIG_INVALID: {
    disposition: 'permanent',
    doc: 'A configuration value is missing or malformed.',
  },
  REKEY_INPUT_INVALID: {
    disposition: 'permanent',
    doc: 'A request or command argument is malformed.',
  },
  REKEY_HSM_MODULE_UNAVAILABLE: {
    disposition: 'permanent',
    doc: 'The PKCS#11 module could not be loaded or initialised.',
  },
  REKEY_HSM_TOKEN_NOT_FOUND: {
    disposition: 'permanent',
    doc: 'No slot holds a token with the configured label.',
  },
  REKEY_HSM_PIN_INCORRECT: {
    disposition: 'permanent',
    doc: 'The HSM rejected the configured user PIN.',
  },
  REKEY_HSM_PIN_LOCKED: {
    disposition: 'permanent',
    doc: 'The token locked the user PIN after too many failed logins.',
  },
  REKEY_HSM_SESSION_LOST: {
    disposition: 'retryable',
    doc: 'The HSM closed or invalidated the session, or the device went away.',
  },
  REKEY_HSM_BUSY: {
    disposition: 'retryable',
    doc: 'The HSM is temporarily unable to serve the request.',
  },
  REKEY_HSM_MECHANISM_UNSUPPORTED: {
    disposition: 'permanent',
    doc: 'The token does not offer a mechanism Rekey needs, with the flags it needs.',
  },
  REKEY_HSM_KEY_NOT_FOUND: {
    disposition: 'permanent',
    doc: 'A key object expected on the token (such as the master key) is absent.',
  },
  REKEY_HSM_UNWRAP_FAILED: {
    disposition: 'permanent',
    doc: 'A wrapped key failed its integrity check on unwrap: it was altered or wrapped under another key.',
  },
  REKEY_HSM_OPERATION_FAILED: {
    disposition: 'permanent',
    doc: 'The HSM refused an operation for a reason not covered by another code.',
  },
  REKEY_ENVELOPE_MALFORMED: {
    disposition: 'permanent',
    doc: 'A stored ciphertext is not a well-formed Rekey envelope.',
  },
  REKEY_CIPHERTEXT_AUTH_FAILED: {
    disposition: 'permanent',
    doc: 'A ciphertext failed AES-GCM authentication: it was altered, or copied from another row, column or tenant.',
  },
  REKEY_KEY_NOT_FOUND: {
    disposition: 'permanent',
    doc: 'No key with the requested id or version exists in the key registry.',
  },
  REKEY_KEY_STATE_INVALID: {
    disposition: 'permanent',
    doc: 'The key exists but its state forbids the requested use.',
  },
  REKEY_KEY_MISMATCH: {
    disposition: 'permanent',
    doc: 'A ciphertext names a different key than the one offered to decrypt it.',
  },
  REKEY_TENANT_UNKNOWN: {
    disposition: 'permanent',
    doc: 'The tenant has no data-encryption key.',
  },
  REKEY_TENANT_EXISTS: {
    disposition: 'permanent',
    doc: 'The tenant already has a data-encryption key.',
  },
  REKEY_ROTATION_IN_PROGRESS: {
    disposition: 'permanent',
    doc: 'A rotation for the tenant is already pending or running.',
  },
  REKEY_ROTATION_NOT_FOUND: {
    disposition: 'permanent',
    doc: 'No rotation run has the requested id.',
  },
  REKEY_DB_UNAVAILABLE: {
    disposition: 'retryable',
    doc: 'PostgreSQL could not be reached or dropped the connection.',
  },
  REKEY_DB_CONFLICT: {
    disposition: 'retryable',
    doc: 'PostgreSQL aborted a transaction on a serialization failure or deadlock.',
  },
  REKEY_DB_SCHEMA_MISSING: {
    disposition: 'permanent',
    doc: "Rekey's tables are absent; run the migrations first.",
  },
  REKEY_DB_FAILED: {
    disposition: 'permanent',
    doc: 'PostgreSQL rejected a statement for a reason not covered by another code.',
  },
  REKEY_QUEUE_UNAVAILABLE: {
    disposition: 'retryable',
    doc: 'Redis, which holds the job queues, could not be reached in time.',
  },
  REKEY_ROTATION_STATE_INVALID: {
    disposition: 'permanent',
    doc: 'A rotation step was asked for in a state of the run that does not allow it.',
  },
  REKEY_INTERNAL: {
    disposition: 'permanent',
    doc: 'An unexpected failure inside Rekey; report it together with the log line that shows it.',
  },
  REKEY_DB_TIMEOUT: {
    disposition: 'retryable',
    doc: 'PostgreSQL cancelled a statement that ran past its statement or lock timeout.',
  },
  REKEY_BATCH_RESULT_INVALID: {
    disposition: 'permanent',
    doc: 'A batch transform did not return every row it was given exactly once, as rewritten or as failed.',
  },
  REKEY_KEY_RETIREMENT_BLOCKED: {
    disposition: 'permanent',
    doc: 'A key cannot be retired while rows are still encrypted under it.',
  },
  REKEY_API_UNAVAILABLE: {
    disposition: 'retryable',
    doc: "The scheduler's HTTP API could not be reached or did not answer in time.",
  },
} satisfies Record<string, CodeSpec>);

/** A stable error code from {@link errorCodes}. */
export type ErrorCode = keyof typeof errorCodes;

/** Options of a {@link RekeyError}. */
export interface RekeyErrorOptions {
  /** The lower-level error, already free of secrets. */
  readonly cause?: unknown;
  /** Structured, secret-free facts about the failure (ids, counts, codes). */
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * The one error class of Rekey. `code` is stable and documented;
 * `retryable` tells a queue whether another attempt may succeed.
 */
export class RekeyError extends Error {
  override readonly name = 'RekeyError';
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, string | number | boolean>>;

  /**
   * @param code - the registry code
   * @param message - what happened and what to do; never a secret
   * @param options - cause and details
   */
  constructor(code: ErrorCode, message: string, options?: RekeyErrorOptions) {
    super(
      message,
      options?.cause === undefined ? {} : { cause: options.cause },
    );
    this.code = code;
    this.details = Object.freeze({ ...(options?.details ?? {}) });
  }

  /** Whether the failed work may succeed if tried again. */
  get retryable(): boolean {
    return errorCodes[this.code].disposition === 'retryable';
  }
}

/**
 * Tells whether `error` is a {@link RekeyError}, optionally of one code.
 *
 * @param error - anything caught
 * @param code - the code to match, if any
 */
export function isRekeyError(
  error: unknown,
  code?: ErrorCode,
): error is RekeyError {
  if (!(error instanceof RekeyError)) return false;

  return code === undefined || error.code === code;
}
