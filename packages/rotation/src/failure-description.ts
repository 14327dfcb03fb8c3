import { isRekeyError } from '@rekey/core';

/**
 * The code and reason recorded for a row that failed: a RekeyError's own
 * code and message, which its author kept free of secrets; anything else
 * is a defect in Rekey, not in the row, recorded as `REKEY_INTERNAL` with
 * its message (node:crypto's messages carry no key or plaintext bytes).
 *
 * @internal
 */
export function describeFailure(error: unknown): {
  readonly code: string;
  readonly reason: string;
} {
  if (isRekeyError(error)) return { code: error.code, reason: error.message };

  return {
    code: 'REKEY_INTERNAL',
    reason: error instanceof Error ? error.message : String(error),
  };
}
