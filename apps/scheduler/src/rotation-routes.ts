import { isRekeyError, RekeyError } from '@rekey/core';
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
import { serializeError } from './scheduler-logger.js';
import type {
  ActiveKeyFinder,
  RotationQueue,
  RotationRunStore,
  RunRecord,
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

    const key = await deps.keys.findActiveKey('dek', tenantId);
    if (key === undefined) {
      throw new RekeyError(
        'REKEY_TENANT_UNKNOWN',
        `tenant ${tenantId} has no active data-encryption key, so there is nothing to rotate`,
        { details: { tenantId } },
      );
    }

    const run = await createRun(deps.runs, {
      tenantId,
      fromKeyId: key.id,
      requestedBy,
    });
    const log = request.log.child({ runId: run.id, tenantId });

    try {
      await deps.queues.enqueueRotation(run.id);
    } catch (error) {
      await markNotScheduled({ runs: deps.runs, log, run, error });
      throw error;
    }
    log.info({ requestedBy, fromKeyId: key.id }, 'rotation requested');

    return reply
      .status(202)
      .header('location', runPath(run.id))
      .send({ rotation: summaryView(run), links: { self: runPath(run.id) } });
  });

  app.get('/v1/rotations/:id', async (request) => {
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

  app.get('/v1/rotations', async (request) => {
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

/**
 * Creates the run; when the tenant already has one pending or running,
 * answers with that run's id so the caller can follow it.
 */
async function createRun(
  runs: RotationRunStore,
  input: { tenantId: string; fromKeyId: number; requestedBy: string },
): Promise<RunRecord> {
  try {
    return await runs.createRun(input);
  } catch (error) {
    if (!isRekeyError(error, 'REKEY_ROTATION_IN_PROGRESS')) throw error;

    const current = await runningRunOf(runs, input.tenantId, error);
    if (current === undefined) throw error;

    throw new RekeyError(
      'REKEY_ROTATION_IN_PROGRESS',
      `tenant ${input.tenantId} already has rotation run ${current.id} ${current.status}; follow it at ${runPath(current.id)} and ask again once it has finished`,
      {
        cause: error,
        details: { runId: current.id, tenantId: input.tenantId },
      },
    );
  }
}

async function runningRunOf(
  runs: RotationRunStore,
  tenantId: string,
  conflict: RekeyError,
): Promise<{ id: number; status: string } | undefined> {
  const named = conflict.details.runId;
  if (typeof named === 'number') {
    const run = await runs.getRun(named);

    return { id: named, status: run?.status ?? 'pending' };
  }

  const recent = await runs.listRuns({ tenantId, limit: 10 });

  return recent.find(
    (run) => run.status === 'pending' || run.status === 'running',
  );
}

/** What {@link markNotScheduled} needs. */
interface NotScheduled {
  readonly runs: RotationRunStore;
  readonly log: FastifyRequest['log'];
  readonly run: RunRecord;
  readonly error: unknown;
}

/**
 * Marks a run failed when its job could not be enqueued, so that no run is
 * left pending without a job (which would also block every later request
 * for the tenant). If even that fails, the run stays pending and an
 * operator has to fail it by hand: that is logged as an error.
 */
async function markNotScheduled(input: NotScheduled): Promise<void> {
  const { runs, log, run, error } = input;
  const reason = isRekeyError(error, 'REKEY_QUEUE_UNAVAILABLE')
    ? 'not scheduled: the job queue was unreachable'
    : 'not scheduled: the job queue refused the job';

  try {
    await runs.finishRun(run.id, {
      status: 'failed',
      rowsRemaining: null,
      error: reason,
    });
    log.warn({ err: error }, 'rotation not scheduled');
  } catch (finishError) {
    log.error(
      { err: finishError, enqueueErr: serializeError(error) },
      'rotation left pending without a job',
    );
  }
}
