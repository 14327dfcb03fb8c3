import { createPool, migrateToLatest } from '@rekey/postgres';

import { say, type CliContext } from '../cli-context.js';

/** `rekey migrate`: brings Rekey's schema to the latest version. */
export async function migrateCommand(ctx: CliContext): Promise<void> {
  const pool = createPool({
    connectionString: ctx.config.database.url,
    max: 2,
    applicationName: 'rekey-cli',
  });
  ctx.cleanup.add('postgres pool', () => pool.end());

  const { applied } = await migrateToLatest(pool, {
    schema: ctx.config.database.schema,
  });

  say(
    applied.length === 0
      ? `migrate: schema ${ctx.config.database.schema} is up to date`
      : `migrate: schema ${ctx.config.database.schema}: applied ${applied.join(', ')}`,
  );
}
