import { RekeyError } from '@rekey/core';

/**
 * Names that may be spliced into SQL: a letter or underscore, then letters,
 * digits and underscores, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
 * Anything else is refused rather than escaped, so configuration can never
 * carry SQL.
 */
const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Checks that `name` is a plain SQL identifier.
 *
 * @param name - the identifier
 * @param what - what it names, for the message (`schema`, `table`…)
 * @returns `name`
 * @throws RekeyError `REKEY_CONFIG_INVALID` when it is not one
 */
export function assertIdentifier(name: unknown, what: string): string {
  if (typeof name === 'string' && identifierPattern.test(name)) return name;

  throw new RekeyError(
    'REKEY_CONFIG_INVALID',
    `the ${what} name must be 1 to 63 letters, digits or underscores, not starting with a digit; got ${JSON.stringify(String(name)).slice(0, 80)}`,
    { details: { what } },
  );
}

/**
 * Quotes a checked identifier. Quoting keeps its case exactly: `Records`
 * names a table created as `"Records"`, not one created as `Records`.
 *
 * @param name - the identifier
 * @param what - what it names, for the message
 * @throws RekeyError `REKEY_CONFIG_INVALID` when it is not a plain identifier
 */
export function quoteIdentifier(name: unknown, what: string): string {
  return `"${assertIdentifier(name, what)}"`;
}

/**
 * A schema-qualified, quoted name: `"schema"."name"`.
 *
 * @param schema - the schema
 * @param name - the object in it
 * @throws RekeyError `REKEY_CONFIG_INVALID` when either is not a plain
 *   identifier
 */
export function qualifiedName(schema: unknown, name: unknown): string {
  return `${quoteIdentifier(schema, 'schema')}.${quoteIdentifier(name, 'object')}`;
}
