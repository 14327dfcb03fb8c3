import { userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import { say, type CliContext } from '../cli-context.js';
import { tenantIdOf } from '../cli-input.js';
import { rowProgress } from '../progress-bar.js';
import { RekeyApiClient, type ApiRotation } from '../rekey-api-client.js';

/** Options of `rekey rotate`. */
export interface RotateCommandOptions {
  readonly tenant: string;
  readonly wait: boolean;
  readonly progress: boolean;
  readonly api?: string;
  /** How often to poll the run while waiting. @defaultValue 500 */
  readonly pollMillis?: number;
}

const finished = new Set(['completed', 'completed_with_failures', 'failed']);

/**
 * `rekey rotate --tenant T`: asks the scheduler to rotate T's DEK and, unless
 * `--no-wait`, follows the run to its end with a progress bar. Sets exit
 * code 2 for `completed_with_failures` and 1 for `failed`.
 */
export async function rotateCommand(
  ctx: CliContext,
  options: RotateCommandOptions,
): Promise<ApiRotation & { millis: number }> {
  const tenantId = tenantIdOf(options.tenant);
  const api = new RekeyApiClient(options.api ?? ctx.config.api.url);
  const started = performance.now();

  let run = await api.requestRotation(tenantId, `cli:${userInfo().username}`);
  say(`rotate: tenant=${tenantId} rotation=${run.id} status=${run.status}`);
  if (!options.wait) return { ...run, millis: 0 };

  const bar = rowProgress('rotating ', options.progress);
  while (!finished.has(run.status)) {
    await sleep(options.pollMillis ?? 500);
    run = await api.getRotation(run.id);
    if (run.rowsTotal !== null) bar.update(run.rowsDone, run.rowsTotal);
  }
  bar.stop();

  const millis = Math.round(performance.now() - started);
  say(
    `rotate: rotation=${run.id} status=${run.status} rows=${run.rowsDone}/${run.rowsTotal ?? 0} failed=${run.rowsFailed} remaining=${run.rowsRemaining ?? '?'} millis=${millis}${run.error ? ` error=${JSON.stringify(run.error)}` : ''}`,
  );
  if (run.status === 'failed') process.exitCode = 1;
  if (run.status === 'completed_with_failures') process.exitCode = 2;

  return { ...run, millis };
}
