import { RekeyError } from '@rekey/core';

import type { RotationRun } from './rotation-run-types.js';

/** @internal */
export function runNotFound(id: number): RekeyError {
  return new RekeyError(
    'REKEY_ROTATION_NOT_FOUND',
    `no rotation run has id ${id}`,
    {
      details: { runId: id },
    },
  );
}

/** @internal */
export function stateInvalid(run: RotationRun, message: string): RekeyError {
  return new RekeyError('REKEY_ROTATION_STATE_INVALID', message, {
    details: { runId: run.id, status: run.status },
  });
}

/**
 * Checks that ranges are non-empty, ascending and non-overlapping.
 *
 * @internal
 */
export function checkRanges(
  ranges: ReadonlyArray<{ readonly loId: bigint; readonly hiId: bigint }>,
): void {
  if (ranges.length === 0) {
    throw new RekeyError(
      'REKEY_INPUT_INVALID',
      'a run needs at least one range',
    );
  }

  let previousHi: bigint | undefined;
  for (const [i, range] of ranges.entries()) {
    if (typeof range.loId !== 'bigint' || typeof range.hiId !== 'bigint') {
      throw new RekeyError(
        'REKEY_INPUT_INVALID',
        `range ${i + 1} needs bigint bounds`,
      );
    }
    if (range.loId >= range.hiId) {
      throw new RekeyError(
        'REKEY_INPUT_INVALID',
        `range ${i + 1} is empty: (${range.loId}, ${range.hiId}]`,
      );
    }
    if (previousHi !== undefined && range.loId < previousHi) {
      throw new RekeyError(
        'REKEY_INPUT_INVALID',
        `range ${i + 1} overlaps or precedes the one before it`,
      );
    }
    previousHi = range.hiId;
  }
}

/** @internal */
export function checkText(name: string, value: unknown): void {
  if (typeof value === 'string' && value.length > 0) return;

  throw new RekeyError(
    'REKEY_INPUT_INVALID',
    `${name} must be a non-empty string`,
  );
}

/** @internal */
export function checkId(name: string, value: number): void {
  if (Number.isSafeInteger(value) && value > 0) return;

  throw new RekeyError(
    'REKEY_INPUT_INVALID',
    `${name} must be a positive integer, got ${value}`,
  );
}

/** @internal */
export function checkCount(name: string, value: number, min: number): void {
  if (Number.isSafeInteger(value) && value >= min) return;

  throw new RekeyError(
    'REKEY_INPUT_INVALID',
    `${name} must be an integer of at least ${min}, got ${value}`,
  );
}
