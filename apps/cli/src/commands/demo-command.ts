import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { RekeyError } from '@rekey/core';
import { loadRuntimeConfig, openDatabaseServices } from '@rekey/runtime';

import { say, type CliContext } from '../cli-context.js';
import {
  logTail,
  startProcess,
  stopProcess,
  type ManagedProcess,
} from '../child-processes.js';
import {
  ensureDevEnvironment,
  withDevEnvironment,
} from '../dev-environment.js';
import { rowCountOf, tenantIdOf } from '../cli-input.js';
import { preflight } from '../preflight.js';
import { hsmInitCommand } from './hsm-init-command.js';
import { migrateCommand } from './migrate-command.js';
import { rotateCommand } from './rotate-command.js';
import { seedCommand } from './seed-command.js';
import { verifyCommand } from './verify-command.js';

/** Options of `rekey demo`. */
export interface DemoCommandOptions {
  readonly rows: string;
  readonly tenant?: string;
  readonly workers: string;
  readonly progress: boolean;
}

const schedulerScript = fileURLToPath(
  new URL('../../../scheduler/dist/main.js', import.meta.url),
);
const workerScript = fileURLToPath(
  new URL('../../../worker/dist/main.js', import.meta.url),
);

/**
 * `rekey demo`: the main job end to end on the local services. Migrates,
 * initialises a development HSM token if there is none, seeds a tenant,
 * starts the scheduler and worker processes, rotates the tenant's DEK and
 * waits, verifies every row, stops what it started and prints one summary
 * line. Exits non-zero unless every row was re-encrypted and verified and
 * the old key was retired.
 */
export async function demoCommand(
  ctx: CliContext,
  options: DemoCommandOptions,
): Promise<void> {
  rowCountOf(options.rows);
  if (options.tenant !== undefined) tenantIdOf(options.tenant);
  const problems = await preflight(ctx.config);
  if (problems.length > 0) {
    throw new RekeyError(
      'REKEY_CONFIG_INVALID',
      `the demo needs PostgreSQL, Redis and SoftHSM2:\n  - ${problems.join('\n  - ')}`,
    );
  }

  const dev = ensureDevEnvironment();
  const env = withDevEnvironment(ctx.env, dev);
  if (env.SOFTHSM2_CONF) process.env.SOFTHSM2_CONF = env.SOFTHSM2_CONF;
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const demoEnv = {
    ...env,
    PORT: String(port),
    HOST: '127.0.0.1',
    REKEY_API_URL: apiUrl,
  };
  const demo: CliContext = {
    ...ctx,
    env: demoEnv,
    config: loadRuntimeConfig(demoEnv),
  };
  const tenantId = options.tenant ?? `demo-${Date.now().toString(36)}`;

  await migrateCommand(demo);
  await hsmInitCommand(demo);
  const seeded = await seedCommand(demo, {
    tenant: tenantId,
    rows: options.rows,
    progress: options.progress,
  });

  const logDir = join(dev.dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  ctx.cleanup.add('demo processes', async () => {
    await Promise.all(processes.map((p) => stopProcess(p, 30_000)));
  });
  // Interrupted, the demo still stops what it started before it exits.
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`rekey: ${signal}: stopping the demo's processes\n`);
    void ctx.cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  processes.push(
    startProcess({
      name: 'scheduler',
      script: schedulerScript,
      env: demoEnv,
      logDir,
    }),
  );
  for (let i = 1; i <= Math.max(1, Number(options.workers) || 2); i++) {
    processes.push(
      startProcess({
        name: `worker-${i}`,
        script: workerScript,
        env: demoEnv,
        logDir,
      }),
    );
  }
  say(
    `demo: started ${processes.map((p) => p.name).join(', ')}; logs in ${logDir}`,
  );
  await waitUntilReady(apiUrl, processes);

  const rotation = await watchProcesses(
    processes,
    rotateCommand(demo, {
      tenant: tenantId,
      wait: true,
      progress: options.progress,
      pendingTimeoutMillis: 120_000,
    }),
  );
  const report = await verifyCommand(demo, {
    tenant: tenantId,
    json: false,
    progress: options.progress,
  });

  const db = openDatabaseServices(demo.config, {
    cleanup: ctx.cleanup,
    applicationName: 'rekey-demo',
    poolMax: 1,
  });
  const run = await db.runs.getRun(rotation.id);
  const oldKey = run ? await db.keys.getKey(run.fromKeyId) : undefined;
  const seconds = Math.max(rotation.millis, 1) / 1000;

  say(
    `demo: tenant=${tenantId} rows=${seeded.rows} reencrypted=${rotation.rowsDone} failed=${rotation.rowsFailed} verified=${report.verified} old_key=${oldKey?.state ?? 'unknown'} rows_per_s=${Math.round(rotation.rowsDone / seconds)}`,
  );
  const ok =
    rotation.status === 'completed' &&
    rotation.rowsDone === seeded.rows &&
    report.verified === seeded.rows &&
    oldKey?.state === 'retired';
  process.exitCode = ok ? 0 : 1;
}

async function waitUntilReady(
  apiUrl: string,
  processes: readonly ManagedProcess[],
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    assertRunning(processes);
    const ready = await fetch(`${apiUrl}/readyz`, {
      signal: AbortSignal.timeout(2000),
    })
      .then((r) => r.ok)
      .catch(() => false);
    if (ready) return;
    await sleep(200);
  }

  throw new RekeyError(
    'REKEY_API_UNAVAILABLE',
    `the scheduler did not become ready at ${apiUrl} within 30 s; see its log`,
  );
}

/** Fails `work` as soon as one of the processes exits. */
async function watchProcesses<T>(
  processes: readonly ManagedProcess[],
  work: Promise<T>,
): Promise<T> {
  const exited = processes.map((p) =>
    p.exited.then((code) => {
      throw new RekeyError(
        'REKEY_INTERNAL',
        `${p.name} exited with code ${code} during the rotation; its log ends:\n${logTail(p)}`,
      );
    }),
  );

  return Promise.race([work, ...exited]);
}

function assertRunning(processes: readonly ManagedProcess[]): void {
  for (const p of processes) {
    if (p.child.exitCode !== null) {
      throw new RekeyError(
        'REKEY_INTERNAL',
        `${p.name} exited with code ${p.child.exitCode} while starting; its log ends:\n${logTail(p)}`,
      );
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
