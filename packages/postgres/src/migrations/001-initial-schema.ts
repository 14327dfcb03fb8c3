import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Migration 001: the key registry, rotation runs with their ranges and
 * failures, and the default table of encrypted rows, all in `schema`.
 *
 * @param schema - a checked identifier
 */
export function initialSchemaMigration(schema: string): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await createKeys(db, schema);
      await createRotationRuns(db, schema);
      await createRotationRanges(db, schema);
      await createRotationFailures(db, schema);
      await createContextRecords(db, schema);
    },

    async down(db: Kysely<unknown>): Promise<void> {
      const ddl = db.schema.withSchema(schema);
      for (const table of [
        'context_records',
        'rotation_failures',
        'rotation_ranges',
        'rotation_runs',
        'keys',
      ]) {
        await ddl.dropTable(table).ifExists().execute();
      }
      await sql`drop sequence if exists ${sql.id(schema, 'context_records_id_seq')}`.execute(
        db,
      );
    },
  };
}

async function createKeys(db: Kysely<unknown>, schema: string): Promise<void> {
  const ddl = db.schema.withSchema(schema);

  await ddl
    .createTable('keys')
    .addColumn('id', 'bigint', (c) =>
      c.generatedAlwaysAsIdentity().primaryKey(),
    )
    .addColumn('kind', 'text', (c) =>
      c.notNull().check(sql`kind in ('master', 'kek', 'dek')`),
    )
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version > 0`))
    .addColumn('state', 'text', (c) =>
      c.notNull().check(sql`state in ('active', 'decrypt-only', 'retired')`),
    )
    .addColumn('wrapped_by_id', 'bigint', (c) => c.references('keys.id'))
    .addColumn('wrap_mechanism', 'text')
    .addColumn('wrapped_key', 'bytea')
    .addColumn('hsm_label', 'text')
    .addColumn('created_by_run', 'bigint')
    .addColumn('created_at', 'timestamptz', (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addColumn('activated_at', 'timestamptz')
    .addColumn('retired_at', 'timestamptz')
    .addUniqueConstraint('keys_kind_scope_version_key', [
      'kind',
      'scope',
      'version',
    ])
    .addCheckConstraint(
      'keys_wrapped_check',
      sql`(wrapped_key is null) = (wrap_mechanism is null)`,
    )
    .execute();

  // At most one active version per scope: the database, not the caller,
  // guarantees that no two writers ever see two current keys.
  await ddl
    .createIndex('keys_one_active_per_scope')
    .on('keys')
    .columns(['kind', 'scope'])
    .unique()
    .where(sql.ref('state'), '=', 'active')
    .execute();
  await ddl
    .createIndex('keys_created_by_run_key')
    .on('keys')
    .columns(['kind', 'scope', 'created_by_run'])
    .unique()
    .where(sql.ref('created_by_run'), 'is not', null)
    .execute();
}

async function createRotationRuns(
  db: Kysely<unknown>,
  schema: string,
): Promise<void> {
  const ddl = db.schema.withSchema(schema);

  await ddl
    .createTable('rotation_runs')
    .addColumn('id', 'bigint', (c) =>
      c.generatedAlwaysAsIdentity().primaryKey(),
    )
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('from_key_id', 'bigint', (c) =>
      c.notNull().references('keys.id'),
    )
    .addColumn('to_key_id', 'bigint', (c) => c.references('keys.id'))
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(
          sql`status in ('pending', 'running', 'completed', 'completed_with_failures', 'failed')`,
        ),
    )
    .addColumn('rows_total', 'bigint')
    .addColumn('rows_remaining', 'bigint')
    .addColumn('hsm_calls', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .execute();

  // One unfinished run per tenant: a second request while one is pending
  // or running fails on this index.
  await ddl
    .createIndex('rotation_runs_one_active_per_tenant')
    .on('rotation_runs')
    .column('tenant_id')
    .unique()
    .where(sql.ref('status'), 'in', ['pending', 'running'])
    .execute();
  await ddl
    .createIndex('rotation_runs_tenant_id_idx')
    .on('rotation_runs')
    .columns(['tenant_id', 'id'])
    .execute();
}

async function createRotationRanges(
  db: Kysely<unknown>,
  schema: string,
): Promise<void> {
  await db.schema
    .withSchema(schema)
    .createTable('rotation_ranges')
    .addColumn('run_id', 'bigint', (c) =>
      c.notNull().references('rotation_runs.id').onDelete('cascade'),
    )
    .addColumn('range_no', 'integer', (c) => c.notNull())
    .addColumn('lo_id', 'bigint', (c) => c.notNull())
    .addColumn('hi_id', 'bigint', (c) => c.notNull())
    .addColumn('cursor_id', 'bigint', (c) => c.notNull())
    .addColumn('rows_done', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('rows_failed', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`status in ('pending', 'running', 'done', 'failed')`),
    )
    .addColumn('error', 'text')
    .addColumn('updated_at', 'timestamptz', (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addPrimaryKeyConstraint('rotation_ranges_pkey', ['run_id', 'range_no'])
    .addCheckConstraint(
      'rotation_ranges_bounds_check',
      sql`lo_id < hi_id and cursor_id between lo_id and hi_id`,
    )
    .execute();
}

async function createRotationFailures(
  db: Kysely<unknown>,
  schema: string,
): Promise<void> {
  await db.schema
    .withSchema(schema)
    .createTable('rotation_failures')
    .addColumn('run_id', 'bigint', (c) =>
      c.notNull().references('rotation_runs.id').onDelete('cascade'),
    )
    .addColumn('row_id', 'bigint', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('rotation_failures_pkey', ['run_id', 'row_id'])
    .execute();
}

async function createContextRecords(
  db: Kysely<unknown>,
  schema: string,
): Promise<void> {
  const ddl = db.schema.withSchema(schema);
  const sequence = sql.id(schema, 'context_records_id_seq');
  const sequenceName = `"${schema}"."context_records_id_seq"`;

  await sql`create sequence ${sequence} as bigint`.execute(db);
  await ddl
    .createTable('context_records')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('id', 'bigint', (c) =>
      c.notNull().defaultTo(sql`nextval(${sql.lit(sequenceName)}::regclass)`),
    )
    .addColumn('key_id', 'bigint', (c) => c.notNull())
    .addColumn('ciphertext', 'bytea', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addPrimaryKeyConstraint('context_records_pkey', ['tenant_id', 'id'])
    .execute();
  await sql`alter sequence ${sequence} owned by ${sql.id(schema, 'context_records', 'id')}`.execute(
    db,
  );
  await ddl
    .createIndex('context_records_tenant_key_idx')
    .on('context_records')
    .columns(['tenant_id', 'key_id'])
    .execute();
}
