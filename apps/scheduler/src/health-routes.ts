import type { FastifyInstance } from 'fastify';

import type { DatabaseProbe, RotationQueue } from './scheduler-ports.js';

/** What the health routes look at. */
export interface HealthRouteDeps {
  readonly queues: Pick<RotationQueue, 'readiness'>;
  readonly database: DatabaseProbe;
  /**
   * How long PostgreSQL may take to answer `select 1`.
   *
   * @defaultValue 2000
   */
  readonly databaseTimeoutMillis?: number;
}

type Check = 'ready' | 'not-ready';

/**
 * Registers the probes:
 * - `GET /healthz`: the process is up (liveness); it checks nothing else,
 *   so an outage of Redis or PostgreSQL never gets the process restarted;
 * - `GET /readyz`: 200 when the Redis producer connection is ready and
 *   PostgreSQL answers `select 1` in time, else 503, with each check named.
 *
 * @param app - the fastify instance
 * @param deps - the queues and the database
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  deps: HealthRouteDeps,
): void {
  const timeoutMillis = deps.databaseTimeoutMillis ?? 2000;

  // Probes run every few seconds; their request lines would drown the log.
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel: 'warn' }, async (request, reply) => {
    const redis: Check = deps.queues.readiness();
    const postgres: Check = await probe(deps.database, timeoutMillis).then(
      () => 'ready' as const,
      (error: unknown) => {
        request.log.debug({ err: error }, 'database probe failed');

        return 'not-ready' as const;
      },
    );
    const ready = redis === 'ready' && postgres === 'ready';

    return reply.status(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not-ready',
      checks: { redis, postgres },
    });
  });
}

async function probe(database: DatabaseProbe, millis: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const query = database.query('select 1');
  query.catch(() => undefined);

  try {
    await Promise.race([
      query,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${millis} ms`)),
          millis,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
