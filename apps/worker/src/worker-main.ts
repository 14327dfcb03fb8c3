import {
  createWorkerConnection,
  createWorkerOptions,
  queueNames,
  RekeyQueues,
} from '@rekey/queue';
import type { RotationEvent } from '@rekey/rotation';
import {
  CleanupList,
  createLogger,
  loadRuntimeConfig,
  openKeyServices,
} from '@rekey/runtime';
import { Worker } from 'bullmq';
import type { Logger } from 'pino';

import {
  reencryptProcessor,
  rotationProcessor,
} from './rotation-processors.js';

/**
 * Starts a worker process: both queues' workers over one HSM session, one
 * pool and one Redis connection, until SIGTERM or SIGINT. On a signal it
 * stops taking jobs, lets running ranges stop at their next batch boundary
 * (they resume elsewhere from their checkpoint), then closes the HSM, the
 * pool and Redis, and exits 0.
 */
export async function runWorker(): Promise<void> {
  const config = loadRuntimeConfig(process.env);
  const log = createLogger({ name: 'rekey-worker', level: config.logLevel });
  const services = new CleanupList();
  const stopping = new AbortController();

  const keyServices = await openKeyServices(config, {
    cleanup: services,
    applicationName: 'rekey-worker',
    poolMax: config.worker.concurrency + 4,
    onEvent: (event) => logEvent(log, event),
  });
  const queues = RekeyQueues.open({
    redisUrl: config.redis.url,
    prefix: config.redis.queuePrefix,
    onConnectionError: (err) => log.warn({ err }, 'redis producer error'),
  });
  const connection = createWorkerConnection(config.redis.url);
  connection.on('error', (err) => log.warn({ err }, 'redis worker error'));

  const deps = {
    engine: keyServices.engine,
    runs: keyServices.runs,
    queues,
    hsm: keyServices.hsm,
    log,
    stopping: stopping.signal,
  };
  const options = (concurrency: number) =>
    createWorkerOptions({
      connection,
      prefix: config.redis.queuePrefix,
      concurrency,
      ...(config.worker.lockDurationMillis
        ? { lockDurationMillis: config.worker.lockDurationMillis }
        : {}),
      ...(config.worker.stalledIntervalMillis
        ? { stalledIntervalMillis: config.worker.stalledIntervalMillis }
        : {}),
    });
  const workers = [
    new Worker(queueNames.rotation, rotationProcessor(deps), options(2)),
    new Worker(
      queueNames.reencrypt,
      reencryptProcessor(deps),
      options(config.worker.concurrency),
    ),
  ];
  for (const worker of workers) {
    worker.on('error', (err) =>
      log.warn({ err, queue: worker.name }, 'worker error'),
    );
  }

  const shutdown = new CleanupList()
    .add('stop taking jobs', () => {
      stopping.abort();
    })
    .add('drain workers', () =>
      closeWithin(workers, config.worker.shutdownGraceMillis, log),
    )
    .add('queues', () => queues.close())
    .add('redis', async () => {
      await connection.quit();
    })
    .add('services', async () => {
      const failures = await services.run();
      if (failures.length > 0) throw failures[0]?.error;
    });

  let stoppingSince = 0;
  const onSignal = (signal: string) => {
    if (stoppingSince > 0) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stoppingSince = Date.now();
    log.info({ signal }, 'worker stopping');
    // Closing can hang when Redis is away; the process ends regardless
    // shortly after the grace period, and the jobs it held go back to the
    // queue through stall detection.
    setTimeout(() => {
      log.error('shutdown did not finish in time, exiting');
      process.exit(1);
    }, config.worker.shutdownGraceMillis + 10_000).unref();
    void shutdown.run().then((failures) => {
      for (const failure of failures) {
        log.error(
          { err: failure.error, step: failure.name },
          'shutdown step failed',
        );
      }
      log.info('worker stopped');
      process.exit(failures.length === 0 ? 0 : 1);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  keyServices.pool.query('select 1').catch((err: unknown) => {
    log.warn({ err }, 'postgres unreachable at start, jobs will retry');
  });

  log.info(
    {
      pid: process.pid,
      concurrency: config.worker.concurrency,
      prefix: config.redis.queuePrefix,
    },
    'worker started',
  );
}

async function closeWithin(
  workers: readonly Worker[],
  graceMillis: number,
  log: Logger,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), graceMillis);
  });
  const closed = Promise.all(workers.map((w) => w.close())).then(
    () => 'closed' as const,
  );

  const outcome = await Promise.race([closed, expired]);
  clearTimeout(timer);
  if (outcome === 'expired') {
    // The running jobs did not stop in time; forcing the close leaves them
    // to stall detection, and their ranges resume from the last checkpoint.
    log.warn({ graceMillis }, 'grace period over, forcing close');
    await Promise.all(workers.map((w) => w.close(true)));
  }
}

function logEvent(log: Logger, event: RotationEvent): void {
  const { type, ...fields } = event;
  switch (type) {
    case 'batch-reencrypted':
      log.debug(fields, 'batch re-encrypted');
      return;
    case 'rows-failed':
      log.warn(fields, 'rows failed to re-encrypt');
      return;
    case 'range-finished':
      log.info(fields, 'range finished');
      return;
    case 'rotation-started':
      log.info(fields, 'rotation started');
      return;
    case 'sweep-started':
      log.warn(fields, 'rows left under the old key, sweeping');
      return;
    case 'rotation-finished':
      if (event.status === 'completed') log.info(fields, 'rotation finished');
      else log.warn(fields, 'rotation finished');
      return;
    default: {
      const unknown: never = type;
      log.warn({ type: unknown }, 'unknown rotation event');
    }
  }
}
