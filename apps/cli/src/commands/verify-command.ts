import { openKeyServices } from '@rekey/runtime';
import { verifyTenant, type VerifyReport } from '@rekey/rotation';

import { say, type CliContext } from '../cli-context.js';
import { tenantIdOf } from '../cli-input.js';
import { rowProgress } from '../progress-bar.js';

/** Options of `rekey verify`. */
export interface VerifyCommandOptions {
  readonly tenant: string;
  readonly json: boolean;
  readonly progress: boolean;
}

/**
 * `rekey verify --tenant T`: decrypts every row of T and reports the rows
 * per key version and every failure. Sets exit code 2 when a row fails.
 */
export async function verifyCommand(
  ctx: CliContext,
  options: VerifyCommandOptions,
): Promise<VerifyReport> {
  const tenantId = tenantIdOf(options.tenant);
  const services = await openKeyServices(ctx.config, {
    cleanup: ctx.cleanup,
    applicationName: 'rekey-cli',
    poolMax: 2,
  });
  await services.hierarchy.activeDek(tenantId);
  const total = (await services.records.countRowsByKey(tenantId)).values();
  const rows = [...total].reduce((a, b) => a + b, 0);
  const bar = rowProgress('verifying', options.progress && !options.json);

  const report = await verifyTenant({
    hierarchy: services.hierarchy,
    records: services.records,
    table: ctx.config.table,
    tenantId,
    onProgress: (done) => bar.update(done, rows),
  });
  bar.stop();

  if (options.json) {
    say(
      JSON.stringify(report, (_k, v: unknown) =>
        typeof v === 'bigint' ? v.toString() : v,
      ),
    );
  } else {
    const perKey = report.byKey
      .map((k) => `key ${k.keyId} v${k.version}: ${k.rows}`)
      .join(', ');
    say(
      `verify: tenant=${tenantId} rows=${report.rows} verified=${report.verified} failed=${report.failed}${perKey ? ` (${perKey})` : ''}`,
    );
    for (const failure of report.failures) {
      say(`  row ${failure.rowId}: ${failure.code}: ${failure.reason}`);
    }
  }
  if (report.failed > 0) process.exitCode = 2;

  return report;
}
