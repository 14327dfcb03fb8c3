import { openKeyServices } from '@rekey/runtime';
import { seedTenant } from '@rekey/rotation';

import { say, type CliContext } from '../cli-context.js';
import { rowProgress } from '../progress-bar.js';
import { tenantIdOf, rowCountOf } from '../cli-input.js';

/** Options of `rekey seed`. */
export interface SeedCommandOptions {
  readonly tenant: string;
  readonly rows: string;
  readonly progress: boolean;
}

/**
 * `rekey seed --tenant T --rows N`: writes N context records for T,
 * encrypted under its current DEK (made if the tenant is new).
 */
export async function seedCommand(
  ctx: CliContext,
  options: SeedCommandOptions,
): Promise<{ rows: number; millis: number }> {
  const tenantId = tenantIdOf(options.tenant);
  const rows = rowCountOf(options.rows);
  const services = await openKeyServices(ctx.config, {
    cleanup: ctx.cleanup,
    applicationName: 'rekey-cli',
    poolMax: 2,
  });
  const bar = rowProgress('seeding ', options.progress);
  const started = performance.now();

  const result = await seedTenant({
    hierarchy: services.hierarchy,
    records: services.records,
    table: ctx.config.table,
    tenantId,
    rows,
    onProgress: (done) => bar.update(done, rows),
  });
  bar.stop();

  const millis = Math.round(performance.now() - started);
  say(
    `seed: tenant=${tenantId} rows=${result.rows} key=${result.keyId} v${result.keyVersion} millis=${millis}`,
  );

  return { rows: result.rows, millis };
}
