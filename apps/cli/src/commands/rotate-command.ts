import { userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import { RekeyError } from '@rekey/core';

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
  /**
   * Fail when no worker has started the run after this long; unset, only
   * warn once after 30 s.
   */
  readonly pendingTimeoutMillis?: number;
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
  let warned = false;
  while (!finished.has(run.status)) {
    await sleep(options.pollMillis ?? 500);
    run = await api.getRotation(run.id);
    const waited = performance.now() - started;
    if (
      run.status === 'pending' &&
      waited > (options.pendingTimeoutMillis ?? Infinity)
    ) {
      bar.stop();
      throw new RekeyError(
        'REKEY_ROTATION_STATE_INVALID',
        `rotation ${run.id} is still pending after ${Math.round(waited / 1000)} s: no worker has started it; check that workers run against the same Redis and queue prefix`,
        { details: { runId: run.id } },
      );
    }
    if (run.status === 'pending' && waited > 30_000 && !warned) {
      warned = true;
      process.stderr.write(
        `rekey: rotation ${run.id} is still pending after 30 s; is a worker running (node apps/worker/dist/main.js) against the same Redis and REKEY_QUEUE_PREFIX?\n`,
      );
    }
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
