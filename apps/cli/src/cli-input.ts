import { RekeyError } from '@rekey/core';

const tenantPattern = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Checks a tenant id given on the command line.
 *
 * @throws RekeyError `REKEY_INPUT_INVALID`
 */
export function tenantIdOf(value: string | undefined): string {
  if (value && tenantPattern.test(value)) return value;

  throw new RekeyError(
    'REKEY_INPUT_INVALID',
    `--tenant must be 1 to 128 letters, digits, dots, dashes or underscores, got ${JSON.stringify(value ?? '')}`,
  );
}

/**
 * Checks a row count given on the command line.
 *
 * @throws RekeyError `REKEY_INPUT_INVALID`
 */
export function rowCountOf(value: string): number {
  const rows = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isSafeInteger(rows) && rows <= maxSeedRows) return rows;

  throw new RekeyError(
    'REKEY_INPUT_INVALID',
    `--rows must be a whole number from 0 to ${maxSeedRows.toLocaleString('en')}, got ${JSON.stringify(value)}`,
  );
}

/** More rows than any test or demo needs; a typo beyond it would fill the disk. */
const maxSeedRows = 100_000_000;
