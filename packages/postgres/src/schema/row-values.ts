import { RekeyError } from '@rekey/core';

/**
 * Converts a bigint or numeric column, which node-postgres returns as a
 * decimal string, into a number.
 *
 * @param value - the column value
 * @param what - what it counts or names, for the message
 * @throws RekeyError `REKEY_INTERNAL` when it exceeds 2^53 - 1
 * @internal
 */
export function toSafeNumber(
  value: string | number | bigint,
  what: string,
): number {
  const number = Number(value);
  if (Number.isSafeInteger(number)) return number;

  throw new RekeyError(
    'REKEY_INTERNAL',
    `${what} ${String(value)} does not fit in a JavaScript number`,
  );
}

/**
 * Like {@link toSafeNumber} for a nullable column.
 *
 * @internal
 */
export function toSafeNumberOrNull(
  value: string | number | bigint | null,
  what: string,
): number | null {
  return value === null ? null : toSafeNumber(value, what);
}
