import { RekeyError } from '@rekey/core';
import { requestRotation } from '@rekey/rotation';
import { serializeError } from '@rekey/runtime';
import type { FastifyInstance, FastifyRequest } from 'fastify';

import {
  actorSchema,
  parseRequestPart,
  rotationListQuerySchema,
  rotationParamsSchema,
  rotationRequestBodySchema,
  rotationRequestParamsSchema,
} from './request-schemas.js';
import { detailView, runPath, summaryView } from './rotation-views.js';
import type {
  ActiveKeyFinder,
  RotationQueue,
  RotationRunStore,
} from './scheduler-ports.js';

/** What the rotation routes need. */
export interface RotationRouteDeps {
  readonly keys: ActiveKeyFinder;
  readonly runs: RotationRunStore;
  readonly queues: RotationQueue;
}

/** How many failed rows `GET /v1/rotations/:id` lists. */
export const failuresShown = 100;

/** The actor recorded when a request names none. */
export const anonymousActor = 'anonymous';

/** The header that names the actor when the body does not. */
export const actorHeader = 'x-rekey-actor';

/**
 * Registers the rotation routes:
 * - `POST /v1/tenants/:tenantId/rotations` requests a rotation;
 * - `GET /v1/rotations/:id` shows one run in full;
 * - `GET /v1/rotations?tenant=&limit=` lists runs, newest first.
 *
 * @param app - the fastify instance
 * @param deps - the key registry, the runs and the queues
 */
export function registerRotationRoutes(
  app: FastifyInstance,
  deps: RotationRouteDeps,
): void {
  app.post('/v1/tenants/:tenantId/rotations', async (request, reply) => {
    const { tenantId } = parseRequestPart(
      rotationRequestParamsSchema,
      request.params,
      'path',
    );
    const requestedBy = actorOf(request);

    const run = await requestRotation(
      {
        keys: deps.keys,
        runs: deps.runs,
        enqueue: (run) => deps.queues.enqueueRotation(run),
        onNotScheduled: (failed, error, markError) => {
          const log = request.log.child({ runId: failed.id, tenantId });
          if (markError === undefined) {
            log.warn({ err: error }, 'rotation not scheduled');
          } else {
            log.error(
              {
                err: markError,
                enqueueErr: serializeError(error, { stack: true }),
              },
              'rotation left pending without a job',
            );
          }
        },
      },
      { tenantId, requestedBy },
    );
    request.log.info(
      { runId: run.id, tenantId, requestedBy, fromKeyId: run.fromKeyId },
      'rotation requested',
    );

    return reply
      .status(202)
      .header('location', runPath(run.id))
      .send({ rotation: summaryView(run), links: { self: runPath(run.id) } });
  });

  // Reads are polled (the CLI asks twice a second while it waits), so their
  // request lines are logged only at warn and above.
  app.get('/v1/rotations/:id', { logLevel: 'warn' }, async (request) => {
    const { id } = parseRequestPart(
      rotationParamsSchema,
      request.params,
      'path',
    );

    const run = await deps.runs.getRun(id);
    if (run === undefined) {
      throw new RekeyError(
        'REKEY_ROTATION_NOT_FOUND',
        `no rotation run has id ${id}`,
        { details: { runId: id } },
      );
    }

    const [progress, ranges, failures] = await Promise.all([
      deps.runs.progress(id),
      deps.runs.listRanges(id),
      deps.runs.listFailures(id, { limit: failuresShown }),
    ]);

    return {
      rotation: detailView({ run, progress, ranges, failures }),
      links: { self: runPath(id) },
    };
  });

  app.get('/v1/rotations', { logLevel: 'warn' }, async (request) => {
    const query = parseRequestPart(
      rotationListQuerySchema,
      request.query,
      'query',
    );

    const runs = await deps.runs.listRuns({
      ...(query.tenant === undefined ? {} : { tenantId: query.tenant }),
      limit: query.limit ?? 20,
    });

    return {
      rotations: runs.map((run) => ({
        ...summaryView(run),
        links: { self: runPath(run.id) },
      })),
    };
  });
}

/** The actor: the body's `requestedBy`, else the header, else anonymous. */
function actorOf(request: FastifyRequest): string {
  const body = parseRequestPart(
    rotationRequestBodySchema,
    request.body,
    'body',
  );
  if (body?.requestedBy !== undefined) return body.requestedBy;

  const header = request.headers[actorHeader];
  if (header === undefined) return anonymousActor;

  return parseRequestPart(
    actorSchema,
    Array.isArray(header) ? header.join(',') : header,
    `${actorHeader} header`,
  );
}
