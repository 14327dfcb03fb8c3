import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';

/** A queue the dashboard shows. */
export type DashboardQueue = Queue;

/** Where the dashboard is mounted. */
export const dashboardPath = '/admin/queues';

/** Options of {@link mountQueueDashboard}. */
export interface QueueDashboardOptions {
  /** The queues to show. */
  readonly queues: readonly DashboardQueue[];
}

/**
 * Mounts the BullMQ dashboard at `/admin/queues`, read-only: it shows
 * queues, jobs and their failures, and offers no retry, removal, promotion
 * or clean. A job changed by hand would bypass the run's own bookkeeping in
 * PostgreSQL (a range retried after its run was finalized, a finalize job
 * removed), so changes go through the API and the workers only.
 *
 * Known shortcoming: the dashboard has no authentication of its own, like
 * the rest of this API; it relies on the scheduler listening on a private
 * interface (the default host is the loopback address) or behind a proxy
 * that authenticates.
 *
 * Job payloads hold ids only, so the dashboard shows no key material.
 *
 * @param app - the fastify instance
 * @param options - the queues
 */
export async function mountQueueDashboard(
  app: FastifyInstance,
  options: QueueDashboardOptions,
): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(dashboardPath);
  createBullBoard({
    queues: options.queues.map(
      (queue) => new BullMQAdapter(queue, { readOnlyMode: true }),
    ),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Rekey queues' } },
  });

  await app.register(serverAdapter.registerPlugin(), { prefix: dashboardPath });
}
