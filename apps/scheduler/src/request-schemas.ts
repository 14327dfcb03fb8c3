import { RekeyError } from '@rekey/core';
import { z } from 'zod';

/**
 * The shapes of what clients send, checked at the edge. A request that
 * does not fit is answered 400 `REKEY_INPUT_INVALID` with a message that
 * names the field and the rule, never the value it broke it with.
 */

/** A tenant id: 1 to 128 letters, digits, `.`, `_` or `-`. */
export const tenantIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, {
  message:
    'must be 1 to 128 characters, each a letter, a digit, ".", "_" or "-"',
});

/** Who asked for a rotation: a person, service or ticket, as free text. */
export const actorSchema = z
  .string()
  .trim()
  .min(1, { message: 'must not be empty' })
  .max(200, { message: 'must be at most 200 characters' })
  .regex(/^[^\p{Cc}]*$/u, { message: 'must not contain control characters' });

/** `POST /v1/tenants/:tenantId/rotations`: path. */
export const rotationRequestParamsSchema = z.object({
  tenantId: tenantIdSchema,
});

/** `POST /v1/tenants/:tenantId/rotations`: optional body. */
export const rotationRequestBodySchema = z
  .strictObject({ requestedBy: actorSchema.optional() })
  .optional();

/** `GET /v1/rotations/:id`: path. */
export const rotationParamsSchema = z.object({
  id: z
    .string()
    .regex(/^[1-9][0-9]{0,14}$/, { message: 'must be a positive integer' })
    .transform(Number),
});

/** `GET /v1/rotations`: query. */
export const rotationListQuerySchema = z.object({
  tenant: tenantIdSchema.optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,3}$/, { message: 'must be an integer from 1 to 100' })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(1, { message: 'must be an integer from 1 to 100' })
        .max(100, { message: 'must be an integer from 1 to 100' }),
    )
    .optional(),
});

/**
 * Parses one part of a request.
 *
 * @param schema - the part's schema
 * @param value - the part as fastify decoded it
 * @param part - `path`, `query`, `body` or a header's name, for the message
 * @returns the parsed value
 * @throws RekeyError `REKEY_INPUT_INVALID`
 */
export function parseRequestPart<T>(
  schema: z.ZodType<T>,
  value: unknown,
  part: string,
): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => {
        if (issue.code === 'unrecognized_keys') {
          return `unexpected field(s) ${issue.keys.join(', ')}`;
        }
        const field = issue.path.join('.');

        return field === '' ? issue.message : `${field} ${issue.message}`;
      })
      .join('; ');

    throw new RekeyError(
      'REKEY_INPUT_INVALID',
      `the request's ${part} is invalid: ${problems}`,
    );
  }

  return result.data;
}
