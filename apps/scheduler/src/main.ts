import {
  createDatabase,
  createPool,
  PgKeyStore,
  RotationRunRepository,
} from '@rekey/postgres';
import { RekeyQueues } from '@rekey/queue';
import { CleanupList, describeServer, loadRuntimeConfig } from '@rekey/runtime';

import { createSchedulerLogger } from './index.js';
import { buildSchedulerApp } from './scheduler-app.js';

/**
 * The scheduler's entry point: reads the environment once, opens the pool
 * and the queues, serves HTTP, and on SIGTERM or SIGINT closes everything
 * in order and exits 0.
 */

/** How long shutdown may take before the process exits regardless. */
const shutdownGraceMillis = 15_000;

/** Connection errors repeat on every reconnection attempt; log a few. */
const connectionErrorLogIntervalMillis = 30_000;

async function main(): Promise<void> {
  const config = loadRuntimeConfig(process.env);
  const log = createSchedulerLogger({ level: config.logLevel });
  const cleanup = new CleanupList();

  const pool = createPool({
    connectionString: config.database.url,
    max: 10,
    applicationName: 'rekey-scheduler',
    onIdleClientError: (error) =>
      log.warn({ err: error }, 'idle database connection lost'),
  });
  const db = createDatabase(pool, { schema: config.database.schema });

  let lastRedisErrorAt = 0;
  const queues = RekeyQueues.open({
    redisUrl: config.redis.url,
    prefix: config.redis.queuePrefix,
    onConnectionError: (error) => {
      if (Date.now() - lastRedisErrorAt < connectionErrorLogIntervalMillis) {
        return;
      }
      lastRedisErrorAt = Date.now();
      log.warn({ err: error }, 'redis connection error');
    },
  });

  const app = await buildSchedulerApp({
    logger: log,
    keys: new PgKeyStore(db),
    runs: new RotationRunRepository(db),
    queues,
    database: pool,
    dashboardQueues: [queues.rotation, queues.reencrypt],
  });

  // Shutdown order: stop taking requests and let those in flight finish,
  // then close the queues they enqueue into, then the pool they read from.
  cleanup
    .add('http server', () => app.close())
    .add('queues', () => queues.close())
    .add('postgres pool', () => pool.end());

  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'scheduler stopping');
    setTimeout(() => {
      log.error({ graceMillis: shutdownGraceMillis }, 'shutdown timed out');
      process.exit(1);
    }, shutdownGraceMillis).unref();

    const failures = await cleanup.run();
    for (const failure of failures) {
      log.error({ step: failure.name, err: failure.error }, 'cleanup failed');
    }
    log.info({ failedSteps: failures.length }, 'scheduler stopped');
    process.exit(0);
  };
  process.once('SIGTERM', (signal) => void stop(signal));
  process.once('SIGINT', (signal) => void stop(signal));

  try {
    await app.listen({ port: config.api.port, host: config.api.host });
  } catch (error) {
    log.error({ err: error }, 'scheduler failed to start');
    await cleanup.run();
    process.exit(1);
  }
  log.info(
    {
      host: config.api.host,
      port: config.api.port,
      schema: config.database.schema,
      queuePrefix: config.redis.queuePrefix,
      database: describeServer(config.database.url),
      redis: describeServer(config.redis.url),
    },
    'scheduler listening',
  );
}

main().catch((error: unknown) => {
  // Configuration errors end here, before any logger exists; their
  // messages name variables and never repeat a URL or PIN.
  process.stderr.write(
    `rekey-scheduler: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
