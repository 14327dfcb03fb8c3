import { RekeyError } from '@rekey/core';
import { openDatabaseServices } from '@rekey/runtime';

import { say, type CliContext } from '../cli-context.js';
import { tenantIdOf } from '../cli-input.js';

/** Options of `rekey status`. */
export interface StatusCommandOptions {
  readonly tenant?: string;
  readonly limit: string;
}

/**
 * `rekey status [--tenant T]`: the master key and KEKs, the tenant's DEK
 * versions with the rows under each, and recent rotation runs.
 */
export async function statusCommand(
  ctx: CliContext,
  options: StatusCommandOptions,
): Promise<void> {
  const db = openDatabaseServices(ctx.config, {
    cleanup: ctx.cleanup,
    applicationName: 'rekey-cli',
    poolMax: 2,
  });
  const tenantId =
    options.tenant === undefined ? undefined : tenantIdOf(options.tenant);

  const masters = await db.keys.listKeys('master', 'master');
  const keks = await db.keys.listKeys('kek', ctx.config.hsm.kekScope);
  for (const key of [...masters, ...keks]) {
    say(`${key.kind} ${key.scope} v${key.version}: key ${key.id} ${key.state}`);
  }

  if (tenantId !== undefined) {
    const rows = await db.records.countRowsByKey(tenantId);
    const versions = await db.keys.listKeys('dek', tenantId);
    if (versions.length === 0) {
      throw new RekeyError(
        'REKEY_TENANT_UNKNOWN',
        `tenant ${JSON.stringify(tenantId)} has no data-encryption key; check the tenant id`,
        { details: { tenantId } },
      );
    }
    for (const key of versions) {
      say(
        `dek ${tenantId} v${key.version}: key ${key.id} ${key.state} rows=${rows.get(key.id) ?? 0}`,
      );
    }
  }

  const runs = await db.runs.listRuns({
    ...(tenantId === undefined ? {} : { tenantId }),
    limit: Number(options.limit) || 10,
  });
  for (const run of runs) {
    const progress = await db.runs.progress(run.id);
    say(
      `rotation ${run.id}: tenant=${run.tenantId} status=${run.status} key ${run.fromKeyId} -> ${run.toKeyId ?? '?'} rows=${progress.rowsDone}/${run.rowsTotal ?? '?'} failed=${progress.rowsFailed} hsm_calls=${run.hsmCalls}${run.error ? ` error=${JSON.stringify(run.error)}` : ''}`,
    );
  }
}
