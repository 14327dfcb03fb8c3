import { setTimeout as sleep } from 'node:timers/promises';

import { ensureMasterKey } from '@rekey/pkcs11';
import { createPool, migrateToLatest, type RotationRun } from '@rekey/postgres';
import { RekeyQueues } from '@rekey/queue';
import {
  requestRotation,
  seedTenant,
  verifyTenant,
  type VerifyReport,
} from '@rekey/rotation';
import {
  CleanupList,
  loadRuntimeConfig,
  openKeyServices,
  type KeyServices,
  type RuntimeConfig,
} from '@rekey/runtime';

import { testToken } from './hsm-env.js';
import { testEnv, uniqueName } from './test-env.js';
import { startWorker, type WorkerProcess } from './worker-process.js';

/** Options of {@link createRekeyFixture}. */
export interface RekeyFixtureOptions {
  readonly rangeSize?: number;
  readonly batchSize?: number;
  /** Extra environment for the worker processes. */
  readonly workerEnv?: Readonly<Record<string, string>>;
}

/**
 * A whole Rekey installation of its own, on the real services: a fresh
 * schema, a master key on the test token, a KEK, queues under a prefix of
 * their own, and worker processes on demand. Disposing it stops the
 * workers, closes every client and drops the schema.
 */
export interface RekeyFixture extends AsyncDisposable {
  readonly schema: string;
  /** The environment worker processes get. */
  readonly env: Readonly<Record<string, string>>;
  readonly config: RuntimeConfig;
  readonly services: KeyServices;
  readonly queues: RekeyQueues;
  readonly workers: WorkerProcess[];
  /** Starts one more worker process and waits until it is consuming. */
  startWorker(
    extraEnv?: Readonly<Record<string, string>>,
  ): Promise<WorkerProcess>;
  /** Seeds a tenant through the real seeder. */
  seed(tenantId: string, rows: number): Promise<void>;
  /** Decrypts every row of the tenant through the real verifier. */
  verify(tenantId: string): Promise<VerifyReport>;
  /** Requests a rotation the way the API does. */
  rotate(tenantId: string): Promise<RotationRun>;
  /** Polls the run until it has finished, or fails after `timeoutMillis`. */
  waitForRun(runId: number, timeoutMillis?: number): Promise<RotationRun>;
}

const finished = new Set(['completed', 'completed_with_failures', 'failed']);

/** Builds a {@link RekeyFixture}. */
export async function createRekeyFixture(
  options: RekeyFixtureOptions = {},
): Promise<RekeyFixture> {
  const token = testToken();
  const schema = uniqueName('rk');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: testEnv.databaseUrl,
    REKEY_DB_SCHEMA: schema,
    REDIS_URL: testEnv.redisUrl,
    REKEY_QUEUE_PREFIX: `{${schema}}`,
    SOFTHSM2_CONF: token.conf,
    REKEY_PKCS11_MODULE: testEnv.pkcs11Module,
    REKEY_HSM_TOKEN_LABEL: token.label,
    REKEY_HSM_PIN: token.pin,
    REKEY_HSM_MASTER_LABEL: `master-${schema}`,
    REKEY_RANGE_SIZE: String(options.rangeSize ?? 50_000),
    REKEY_BATCH_SIZE: String(options.batchSize ?? 1_000),
    REKEY_WORKER_LOCK_DURATION_MILLIS: '10000',
    REKEY_WORKER_STALLED_INTERVAL_MILLIS: '2000',
    REKEY_SHUTDOWN_GRACE_MILLIS: '15000',
    LOG_LEVEL: 'info',
  };
  const config = loadRuntimeConfig(env);
  const cleanup = new CleanupList();

  const admin = createPool({ connectionString: testEnv.databaseUrl, max: 1 });
  await migrateToLatest(admin, { schema });
  await ensureMasterKey({
    modulePath: testEnv.pkcs11Module,
    tokenLabel: token.label,
    pin: token.pin,
    label: config.hsm.masterLabel,
  });

  const workers: WorkerProcess[] = [];
  const queues = RekeyQueues.open({
    redisUrl: testEnv.redisUrl,
    prefix: config.redis.queuePrefix,
  });
  cleanup
    .add('workers', async () => {
      await Promise.all(workers.map((w) => w.kill()));
    })
    .add('queues', async () => {
      await queues.rotation.obliterate({ force: true }).catch(() => undefined);
      await queues.reencrypt.obliterate({ force: true }).catch(() => undefined);
      await queues.close();
    });
  const services = await openKeyServices(config, {
    cleanup,
    applicationName: `rekey-test-${schema}`,
    poolMax: 6,
  });
  cleanup.add('schema', async () => {
    await admin.query(`drop schema if exists "${schema}" cascade`);
    await admin.end();
  });
  await services.hierarchy.registerMasterKey(config.hsm.masterLabel);
  await services.hierarchy.ensureKek();

  return {
    schema,
    env: { ...env, ...options.workerEnv },
    config,
    services,
    queues,
    workers,
    async startWorker(extraEnv = {}) {
      const worker = startWorker({ ...env, ...options.workerEnv, ...extraEnv });
      workers.push(worker);
      await worker.waitForLine(/"msg":"worker started"/);

      return worker;
    },
    async seed(tenantId, rows) {
      await seedTenant({
        hierarchy: services.hierarchy,
        records: services.records,
        table: config.table,
        tenantId,
        rows,
      });
    },
    verify(tenantId) {
      return verifyTenant({
        hierarchy: services.hierarchy,
        records: services.records,
        table: config.table,
        tenantId,
      });
    },
    rotate(tenantId) {
      return requestRotation(
        {
          keys: services.keys,
          runs: services.runs,
          enqueue: (run) => queues.enqueueRotation(run),
        },
        { tenantId, requestedBy: 'test' },
      );
    },
    async waitForRun(runId, timeoutMillis = 120_000) {
      const deadline = Date.now() + timeoutMillis;
      for (;;) {
        const run = await services.runs.getRun(runId);
        if (run && finished.has(run.status)) return run;
        if (Date.now() > deadline) {
          throw new Error(
            `rotation ${runId} did not finish within ${timeoutMillis} ms (status ${run?.status}); worker output:\n${workers
              .flatMap((w) => w.lines.slice(-5))
              .join('\n')}`,
          );
        }
        await sleep(200);
      }
    },
    async [Symbol.asyncDispose]() {
      const failures = await cleanup.run();
      if (failures.length > 0) throw failures[0]?.error;
    },
  };
}
