import { RekeyError } from '@rekey/core';
import { z } from 'zod';

/**
 * The payloads of Rekey's jobs. They hold ids only: the worker loads
 * everything else (keys, ranges, rows) from PostgreSQL when the job runs.
 * Key material, wrapped keys, plaintext and tokens therefore never sit in
 * Redis, in BullMQ's failed-job records or on the queue dashboard. Each schema
 * is strict, so a payload that grew an unexpected field is rejected rather
 * than silently carried along.
 */

const runId = z
  .number()
  .int()
  .positive()
  .describe('the id of the rotation run in PostgreSQL');

/** The payload of a `rotate-dek` job. */
export const rotateDekJobSchema = z.strictObject({ runId });

/** The payload of a `reencrypt-range` job. */
export const reencryptRangeJobSchema = z.strictObject({
  runId,
  rangeNo: z
    .number()
    .int()
    .nonnegative()
    .describe('the number of the range within its run'),
});

/** The payload of a `finalize-rotation` job. */
export const finalizeRotationJobSchema = z.strictObject({ runId });

/** What a `rotate-dek` job carries. */
export type RotateDekJob = z.infer<typeof rotateDekJobSchema>;

/** What a `reencrypt-range` job carries. */
export type ReencryptRangeJob = z.infer<typeof reencryptRangeJobSchema>;

/** What a `finalize-rotation` job carries. */
export type FinalizeRotationJob = z.infer<typeof finalizeRotationJobSchema>;

/**
 * Validates a job's data against its schema.
 *
 * @param schema - one of the job schemas of this module
 * @param data - the job's data as BullMQ handed it over
 * @returns the validated payload
 * @throws RekeyError `REKEY_INPUT_INVALID` (permanent) when the data does not
 *   match; the message names the offending fields but never their values,
 *   which could be anything a buggy producer put there
 */
export function parseJobData<T>(schema: z.ZodType<T>, data: unknown): T {
  const result = schema.safeParse(data);
  if (!result.success) {
    const fields = result.error.issues
      .map((issue) => describeIssue(issue))
      .join('; ');

    throw new RekeyError(
      'REKEY_INPUT_INVALID',
      `the job payload is malformed: ${fields}`,
    );
  }

  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unexpected field(s) ${issue.keys.join(', ')}`;
  }
  const path = issue.path.length === 0 ? '(root)' : issue.path.join('.');

  return `${path}: ${issue.code}`;
}
