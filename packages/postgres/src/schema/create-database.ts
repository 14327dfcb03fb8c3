import { Kysely, PostgresDialect, type PostgresPool } from 'kysely';

import type { RekeyDatabase } from './rekey-database.js';
import { assertIdentifier } from './sql-identifiers.js';

/** Options of {@link createDatabase}. */
export interface CreateDatabaseOptions {
  /** The schema that holds Rekey's tables. */
  readonly schema: string;
}

/**
 * A kysely instance over `pool` whose queries address Rekey's tables in
 * `options.schema`. Destroying it ends the pool.
 *
 * @param pool - a `pg.Pool`, typically from `createPool`
 * @param options - the schema
 * @throws RekeyError `REKEY_CONFIG_INVALID` for a malformed schema name
 */
export function createDatabase(
  pool: PostgresPool,
  options: CreateDatabaseOptions,
): Kysely<RekeyDatabase> {
  const schema = assertIdentifier(options.schema, 'schema');

  return new Kysely<RekeyDatabase>({
    dialect: new PostgresDialect({ pool }),
  }).withSchema(schema);
}
