import { fastify, type FastifyBaseLogger, type FastifyInstance } from 'fastify';

import { registerHealthRoutes } from './health-routes.js';
import { installErrorHandling } from './http-errors.js';
import { mountQueueDashboard, type DashboardQueue } from './queue-dashboard.js';
import { registerRotationRoutes } from './rotation-routes.js';
import type {
  ActiveKeyFinder,
  DatabaseProbe,
  RotationQueue,
  RotationRunStore,
} from './scheduler-ports.js';

/** Everything the scheduler's HTTP app works with. */
export interface SchedulerDeps {
  /** The root pino logger; each request gets a child of it. */
  readonly logger: FastifyBaseLogger;
  /** The key registry, to find a tenant's active DEK. */
  readonly keys: ActiveKeyFinder;
  /** The rotation runs. */
  readonly runs: RotationRunStore;
  /** The producer side of the job queues. */
  readonly queues: RotationQueue;
  /** Answers the readiness probe's `select 1`; normally the pg pool. */
  readonly database: DatabaseProbe;
  /**
   * The queues shown, read-only, on the dashboard at `/admin/queues`.
   *
   * @defaultValue none, and no dashboard
   */
  readonly dashboardQueues?: readonly DashboardQueue[];
  /**
   * How long a request may take before fastify answers 408.
   *
   * @defaultValue 30000
   */
  readonly requestTimeoutMillis?: number;
}

/**
 * Builds the scheduler's HTTP app: the rotation routes, the probes, the
 * queue dashboard and the one error handler. It opens nothing itself;
 * whoever built the dependencies closes them.
 *
 * @param deps - the logger, repositories, queues and probes
 * @returns the app, ready to `listen` or to `inject` requests into
 */
export async function buildSchedulerApp(
  deps: SchedulerDeps,
): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: deps.logger,
    bodyLimit: 16 * 1024,
    // Above fastify's default of 100 characters, so that every valid
    // tenant id (up to 128) reaches the route and its clear 400, not a 414.
    routerOptions: { maxParamLength: 512 },
    requestTimeout: deps.requestTimeoutMillis ?? 30_000,
    return503OnClosing: true,
  });
  installErrorHandling(app);

  registerHealthRoutes(app, deps);
  registerRotationRoutes(app, deps);
  if (deps.dashboardQueues !== undefined && deps.dashboardQueues.length > 0) {
    await mountQueueDashboard(app, { queues: deps.dashboardQueues });
  }

  await app.ready();

  return app;
}
