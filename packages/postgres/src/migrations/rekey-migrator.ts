import { RekeyError } from '@rekey/core';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  type Migration,
  type MigrationProvider,
  type PostgresPool,
  type PostgresPoolClient,
} from 'kysely';

import { classifyPgError, sqlStateOf } from '../errors/pg-error-classifier.js';
import { quoteIdentifier } from '../schema/sql-identifiers.js';
import { initialSchemaMigration } from './001-initial-schema.js';

/** Options of {@link migrateToLatest}. */
export interface MigrateOptions {
  /** The schema that holds Rekey's tables and its migration records. */
  readonly schema: string;
}

/** What {@link migrateToLatest} did. */
export interface MigrateResult {
  /** Names of the migrations applied by this call, in order. */
  readonly applied: string[];
}

/**
 * Every migration, by name, in order. Names sort in the order they run.
 *
 * @param schema - a checked identifier
 * @internal
 */
export function rekeyMigrations(schema: string): Record<string, Migration> {
  return { '001_initial_schema': initialSchemaMigration(schema) };
}

/**
 * Brings Rekey's schema up to date: creates the schema if absent, then
 * applies, in one transaction, the migrations not yet recorded in its
 * `rekey_migration` table.
 *
 * Safe to run from several processes at once: the whole step runs on one
 * connection that first takes a session advisory lock keyed by the schema
 * name, so a second caller waits and then finds nothing left to apply.
 *
 * @param pool - where to connect
 * @param options - the schema
 * @returns the migrations this call applied
 * @throws RekeyError `REKEY_CONFIG_INVALID` for a malformed schema name, or a
 *   database code from {@link classifyPgError}
 */
export async function migrateToLatest(
  pool: PostgresPool,
  options: MigrateOptions,
): Promise<MigrateResult> {
  const quoted = quoteIdentifier(options.schema, 'schema');
  const lockKey = `rekey.migrate:${options.schema}`;

  let client: PostgresPoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw classifyPgError(error);
  }

  let broken = false;
  try {
    await client.query('select pg_advisory_lock(hashtextextended($1, 0))', [
      lockKey,
    ]);
    await client.query(`create schema if not exists ${quoted}`, []);
    const result = await runMigrator(client, options.schema);
    await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [
      lockKey,
    ]);

    return result;
  } catch (error) {
    // Closing the connection, rather than unlocking on it, releases the
    // session lock whatever state the failure left the connection in.
    broken = true;
    throw migrationError(error);
  } finally {
    client.release(broken);
  }
}

async function runMigrator(
  client: PostgresPoolClient,
  schema: string,
): Promise<MigrateResult> {
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: singleClientPool(client) }),
  });
  const provider: MigrationProvider = {
    getMigrations: async () => rekeyMigrations(schema),
  };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableSchema: schema,
    migrationTableName: 'rekey_migration',
    migrationLockTableName: 'rekey_migration_lock',
  });

  try {
    const { error, results } = await migrator.migrateToLatest();
    if (error !== undefined) throw error;

    const applied = (results ?? [])
      .filter((result) => result.status === 'Success')
      .map((result) => result.migrationName);

    return { applied };
  } finally {
    await db.destroy();
  }
}

/**
 * A pool that always hands out the one connection holding the migration
 * lock, so that every migration statement runs under it. Ending it leaves
 * the connection to its owner.
 */
function singleClientPool(client: PostgresPoolClient): PostgresPool {
  const borrowed: PostgresPoolClient = {
    query: client.query.bind(client) as PostgresPoolClient['query'],
    release: () => undefined,
  };

  return {
    connect: async () => borrowed,
    end: async () => undefined,
  };
}

function migrationError(error: unknown): RekeyError {
  const systemCode = (error as { code?: unknown } | null)?.code;
  if (
    error instanceof RekeyError ||
    sqlStateOf(error) !== undefined ||
    typeof systemCode === 'string'
  ) {
    return classifyPgError(error);
  }

  // The migrator's own failures (a recorded migration missing from the
  // code, for instance) are not connection problems: retrying cannot help.
  return new RekeyError(
    'REKEY_DB_FAILED',
    `the migrations could not run: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}
