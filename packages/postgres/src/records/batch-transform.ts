import { RekeyError } from '@rekey/core';

import { CallerError } from './batch-transaction.js';

/** A row of a batch, as the transform receives it. */
export interface BatchRow {
  readonly id: bigint;
  readonly ciphertext: Buffer;
}

/** A row the transform could not rewrite; it stays under the old key. */
export interface RowFailure {
  readonly id: bigint;
  /** A Rekey error code. */
  readonly code: string;
  /** What went wrong; never key bytes or plaintext. */
  readonly reason: string;
}

/**
 * Turns a batch of old ciphertexts into new ones. It must return every row
 * it is given exactly once, in `rewritten` or in `failures`; it runs while
 * the batch's rows are locked, so it should not wait on anything slow.
 */
export interface BatchTransform {
  (rows: readonly BatchRow[]): {
    rewritten: Array<{ id: bigint; ciphertext: Buffer }>;
    failures: RowFailure[];
  };
}

/**
 * Calls the transform, marking what it throws as the caller's, and checks
 * that it accounted for every row exactly once.
 *
 * @throws RekeyError `REKEY_BATCH_RESULT_INVALID`
 * @internal
 */
export function transformBatch(
  transform: BatchTransform,
  rows: readonly BatchRow[],
): ReturnType<BatchTransform> {
  if (rows.length === 0) return { rewritten: [], failures: [] };

  let outcome: ReturnType<BatchTransform>;
  try {
    outcome = transform(rows);
  } catch (error) {
    throw new CallerError(error);
  }

  if (!Array.isArray(outcome?.rewritten) || !Array.isArray(outcome?.failures)) {
    throw new RekeyError(
      'REKEY_BATCH_RESULT_INVALID',
      'the transform must return { rewritten, failures } arrays, synchronously',
    );
  }

  const unaccounted = new Set(rows.map((row) => row.id));
  for (const row of outcome.rewritten) {
    if (!unaccounted.delete(row.id)) throw resultInvalid(row.id);
    if (!Buffer.isBuffer(row.ciphertext)) {
      throw new RekeyError(
        'REKEY_BATCH_RESULT_INVALID',
        `the transform returned no ciphertext buffer for row ${row.id}`,
      );
    }
  }
  for (const failure of outcome.failures) {
    if (!unaccounted.delete(failure.id)) throw resultInvalid(failure.id);
  }
  if (unaccounted.size > 0) {
    throw new RekeyError(
      'REKEY_BATCH_RESULT_INVALID',
      `the transform returned ${unaccounted.size} row(s) neither rewritten nor failed`,
      { details: { rows: unaccounted.size } },
    );
  }

  return outcome;
}

/**
 * What the unnest of a batch holds in memory: its ciphertexts, plus about
 * 64 bytes of tuple overhead per row, doubled for headroom.
 *
 * @internal
 */
export function workMemBytes(
  rows: ReadonlyArray<{ readonly ciphertext: Buffer }>,
): number {
  let bytes = 0;
  for (const row of rows) bytes += row.ciphertext.length + 64;

  return 2 * bytes;
}

function resultInvalid(id: bigint): RekeyError {
  return new RekeyError(
    'REKEY_BATCH_RESULT_INVALID',
    `the transform returned row ${id}, which was not in the batch or came back twice`,
  );
}
