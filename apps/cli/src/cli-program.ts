import { isRekeyError } from '@rekey/core';
import { Command } from 'commander';

import { createCliContext, type CliContext } from './cli-context.js';
import { demoCommand } from './commands/demo-command.js';
import { hsmInitCommand } from './commands/hsm-init-command.js';
import { migrateCommand } from './commands/migrate-command.js';
import { rotateCommand } from './commands/rotate-command.js';
import { seedCommand } from './commands/seed-command.js';
import { statusCommand } from './commands/status-command.js';
import { verifyCommand } from './commands/verify-command.js';
import { ensureDevEnvironment } from './dev-environment.js';

/**
 * The `rekey` command line. Each action builds its context from the
 * environment, runs, and closes what it opened, whatever the outcome.
 */
export function cliProgram(): Command {
  const program = new Command('rekey')
    .description(
      'Manage per-tenant data keys and re-encrypt data when they rotate.',
    )
    .showHelpAfterError();

  program
    .command('migrate')
    .description("create or upgrade Rekey's tables")
    .action(() => run((ctx) => migrateCommand(ctx)));

  program
    .command('hsm')
    .description('HSM set-up')
    .command('init')
    .description(
      'create the token (if absent), the master key on it and the first KEK',
    )
    .option(
      '--dev',
      'use a development SoftHSM2 token under .rekey/ with random PINs',
    )
    .action((options: { dev?: boolean }) => {
      if (options.dev) ensureDevEnvironment();

      return run((ctx) => hsmInitCommand(ctx));
    });

  program
    .command('seed')
    .description("write encrypted context records under a tenant's current DEK")
    .requiredOption('--tenant <id>', 'tenant id')
    .requiredOption('--rows <n>', 'number of records', '1000')
    .option('--no-progress', 'no progress bar')
    .action((options: { tenant: string; rows: string; progress: boolean }) =>
      run((ctx) => seedCommand(ctx, options)),
    );

  program
    .command('rotate')
    .description("rotate a tenant's DEK and re-encrypt its rows")
    .requiredOption('--tenant <id>', 'tenant id')
    .option('--no-wait', 'return once the rotation is enqueued')
    .option('--no-progress', 'no progress bar')
    .option('--api <url>', 'the scheduler API (default: REKEY_API_URL)')
    .action(
      (options: {
        tenant: string;
        wait: boolean;
        progress: boolean;
        api?: string;
      }) => run((ctx) => rotateCommand(ctx, options)),
    );

  program
    .command('status')
    .description('keys, their states and recent rotations')
    .option('--tenant <id>', 'show this tenant')
    .option('--limit <n>', 'rotations to list', '10')
    .action((options: { tenant?: string; limit: string }) =>
      run((ctx) => statusCommand(ctx, options)),
    );

  program
    .command('verify')
    .description('decrypt every row of a tenant and count rows per key version')
    .requiredOption('--tenant <id>', 'tenant id')
    .option('--json', 'print the report as JSON')
    .option('--no-progress', 'no progress bar')
    .action((options: { tenant: string; json?: boolean; progress: boolean }) =>
      run((ctx) =>
        verifyCommand(ctx, { ...options, json: options.json ?? false }),
      ),
    );

  program
    .command('demo')
    .description(
      'seed, rotate and verify a tenant end to end on the local services',
    )
    .option('--rows <n>', 'records to seed', '100000')
    .option('--tenant <id>', 'tenant id (default: a new demo tenant)')
    .option('--workers <n>', 'worker processes', '2')
    .option('--no-progress', 'no progress bars')
    .action(
      (options: {
        rows: string;
        tenant?: string;
        workers: string;
        progress: boolean;
      }) => run((ctx) => demoCommand(ctx, options)),
    );

  return program;
}

async function run(
  action: (ctx: CliContext) => Promise<unknown>,
): Promise<void> {
  let ctx: CliContext | undefined;
  try {
    ctx = createCliContext();
    await action(ctx);
  } catch (error) {
    process.stderr.write(`rekey: ${describe(error)}\n`);
    process.exitCode = 1;
  } finally {
    const failures = (await ctx?.cleanup.run()) ?? [];
    for (const failure of failures) {
      process.stderr.write(
        `rekey: closing ${failure.name}: ${describe(failure.error)}\n`,
      );
    }
  }
}

function describe(error: unknown): string {
  if (isRekeyError(error)) return `${error.code}: ${error.message}`;

  return error instanceof Error ? error.message : String(error);
}
