import { Writable } from 'node:stream';

import {
  createDatabase,
  createPool,
  migrateToLatest,
  PgKeyStore,
  RotationRunRepository,
} from '@rekey/postgres';
import { jobIds, jobNames, RekeyQueues } from '@rekey/queue';
import { buildSchedulerApp, createSchedulerLogger } from '@rekey/scheduler';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { testEnv, uniqueName } from '../support/test-env.js';

// The scheduler's HTTP API against the real PostgreSQL and Redis: a schema
// and a queue prefix of its own, migrated by @rekey/postgres, and DEK rows
// inserted through the key store. A second app shares the database but
// points its queues at a port where nothing listens, to stand for Redis
// being down.

interface Setup {
  readonly schema: string;
  readonly pool: pg.Pool;
  readonly keys: PgKeyStore;
  readonly runs: RotationRunRepository;
  readonly queues: RekeyQueues;
  readonly downQueues: RekeyQueues;
  readonly app: FastifyInstance;
  readonly downApp: FastifyInstance;
  readonly logLines: string[];
}

let setup: Setup;

beforeAll(async () => {
  const schema = uniqueName('sched');
  const pool = createPool({
    connectionString: testEnv.databaseUrl,
    max: 4,
    applicationName: `rekey-test-${schema}`,
  });
  await migrateToLatest(pool, { schema });
  const db = createDatabase(pool, { schema });
  const keys = new PgKeyStore(db);
  const runs = new RotationRunRepository(db);

  const logLines: string[] = [];
  const logger = createSchedulerLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    }),
  });

  const queues = RekeyQueues.open({
    redisUrl: testEnv.redisUrl,
    prefix: `{${uniqueName('q')}}`,
  });
  const downQueues = RekeyQueues.open({
    redisUrl: 'redis://127.0.0.1:1',
    prefix: `{${uniqueName('q')}}`,
  });
  const app = await buildSchedulerApp({
    logger,
    keys,
    runs,
    queues,
    database: pool,
    dashboardQueues: [queues.rotation, queues.reencrypt],
  });
  const downApp = await buildSchedulerApp({
    logger,
    keys,
    runs,
    queues: downQueues,
    database: pool,
  });

  setup = {
    schema,
    pool,
    keys,
    runs,
    queues,
    downQueues,
    app,
    downApp,
    logLines,
  };
});

afterAll(async () => {
  if (setup === undefined) return;
  await setup.app.close();
  await setup.downApp.close();
  await setup.queues.rotation.obliterate({ force: true });
  await setup.queues.reencrypt.obliterate({ force: true });
  await setup.queues.close();
  await setup.downQueues.close();
  await setup.pool.query(`drop schema if exists "${setup.schema}" cascade`);
  await setup.pool.end();
});

/** A tenant of this test with an active DEK (its wrapped bytes are zeros). */
async function tenantWithKey(): Promise<{ tenantId: string; keyId: number }> {
  const tenantId = uniqueName('tenant');
  const key = await setup.keys.addActiveVersion({
    kind: 'dek',
    scope: tenantId,
    wrappedById: null,
    wrapped: { mechanism: 'aes-key-wrap-pad', bytes: Buffer.alloc(40) },
    hsmLabel: null,
  });

  return { tenantId, keyId: key.id };
}

interface RotationAnswer {
  readonly rotation: {
    readonly id: number;
    readonly tenantId: string;
    readonly status: string;
    readonly requestedBy: string;
    readonly fromKeyId: number;
  };
  readonly links: { readonly self: string };
}

interface ErrorAnswer {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: Record<string, unknown>;
  };
}

interface RotationRequest {
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

function requestRotation(
  app: FastifyInstance,
  tenantId: string,
  request: RotationRequest = {},
) {
  return app.inject({
    method: 'POST',
    url: `/v1/tenants/${encodeURIComponent(tenantId)}/rotations`,
    headers: request.headers ?? {},
    ...(request.body === undefined ? {} : { payload: request.body as object }),
  });
}

describe('POST /v1/tenants/:tenantId/rotations', () => {
  it('answers 202 with the pending run and enqueues its job, with ids only', async () => {
    const { tenantId, keyId } = await tenantWithKey();

    const response = await requestRotation(setup.app, tenantId, {
      body: { requestedBy: 'ops@example.test' },
    });

    expect(response.statusCode).toBe(202);
    const answer = response.json<RotationAnswer>();
    expect(answer.rotation).toMatchObject({
      tenantId,
      status: 'pending',
      requestedBy: 'ops@example.test',
      fromKeyId: keyId,
    });
    expect(answer.links.self).toBe(`/v1/rotations/${answer.rotation.id}`);
    expect(response.headers.location).toBe(answer.links.self);

    const run = await setup.runs.getRun(answer.rotation.id);
    expect(run).toMatchObject({ status: 'pending', tenantId });
    const job = await setup.queues.rotation.getJob(jobIds.rotateDek(run!));
    expect(job?.name).toBe(jobNames.rotateDek);
    expect(job?.data).toEqual({ runId: answer.rotation.id });
  });

  it('takes the actor from the x-rekey-actor header when the body names none', async () => {
    const { tenantId } = await tenantWithKey();

    const response = await requestRotation(setup.app, tenantId, {
      headers: { 'x-rekey-actor': 'billing-service' },
    });

    expect(response.statusCode).toBe(202);
    expect(response.json<RotationAnswer>().rotation.requestedBy).toBe(
      'billing-service',
    );
  });

  it('answers 409 naming the run already in progress', async () => {
    const { tenantId } = await tenantWithKey();
    const first = await requestRotation(setup.app, tenantId);
    const firstId = first.json<RotationAnswer>().rotation.id;

    const second = await requestRotation(setup.app, tenantId);

    expect(second.statusCode).toBe(409);
    const answer = second.json<ErrorAnswer>();
    expect(answer.error.code).toBe('REKEY_ROTATION_IN_PROGRESS');
    expect(answer.error.message).toContain(`rotation ${firstId}`);
    expect(answer.error.details).toMatchObject({ runId: firstId });
  });

  it.each([
    ['a space', 'tenant a'],
    ['a slash', 'tenant/a'],
    ['129 characters', 'a'.repeat(129)],
    ['a non-ASCII letter', 'tenänt'],
  ])('answers 400 for a tenant id with %s', async (_, tenantId) => {
    const response = await requestRotation(setup.app, tenantId);

    expect(response.statusCode).toBe(400);
    const answer = response.json<ErrorAnswer>();
    expect(answer.error.code).toBe('REKEY_INPUT_INVALID');
    expect(answer.error.message).toMatch(/tenantId must be 1 to 128/);
  });

  it('answers 400 for a body with an unexpected field', async () => {
    const { tenantId } = await tenantWithKey();

    const response = await requestRotation(setup.app, tenantId, {
      body: { requestedBy: 'ops', dek: 'c2VjcmV0' },
    });

    expect(response.statusCode).toBe(400);
    expect(response.json<ErrorAnswer>().error.message).toContain('dek');
    expect(response.body).not.toContain('c2VjcmV0');
  });

  it('accepts a tenant id of 128 characters', async () => {
    const response = await requestRotation(setup.app, 'a'.repeat(128));

    expect(response.statusCode).toBe(404);
  });

  it('answers 404 for a tenant without a DEK', async () => {
    const response = await requestRotation(setup.app, uniqueName('nobody'));

    expect(response.statusCode).toBe(404);
    expect(response.json<ErrorAnswer>().error.code).toBe(
      'REKEY_TENANT_UNKNOWN',
    );
  });

  it(
    'answers 503 when Redis is unreachable, leaves the run failed, and a later request goes through',
    { timeout: 20_000 },
    async () => {
      const { tenantId } = await tenantWithKey();

      const response = await requestRotation(setup.downApp, tenantId);

      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.json<ErrorAnswer>().error.code).toBe(
        'REKEY_QUEUE_UNAVAILABLE',
      );
      const runs = await setup.runs.listRuns({ tenantId });
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({
        status: 'failed',
        error: 'not scheduled: the job queue was unreachable',
      });
      expect(runs[0]?.finishedAt).not.toBeNull();

      const later = await requestRotation(setup.app, tenantId);
      expect(later.statusCode).toBe(202);
      const laterId = later.json<RotationAnswer>().rotation.id;
      expect(laterId).not.toBe(runs[0]?.id);
      const laterRun = await setup.runs.getRun(laterId);
      expect(
        await setup.queues.rotation.getJob(jobIds.rotateDek(laterRun!)),
      ).toBeDefined();
    },
  );
});

describe('GET /v1/rotations/:id', () => {
  it('answers 200 with progress, ranges, the failed range and the first failures', async () => {
    const { tenantId } = await tenantWithKey();
    const created = await requestRotation(setup.app, tenantId);
    const id = created.json<RotationAnswer>().rotation.id;
    const next = await setup.keys.addActiveVersion({
      kind: 'dek',
      scope: tenantId,
      wrappedById: null,
      wrapped: { mechanism: 'aes-key-wrap-pad', bytes: Buffer.alloc(40) },
      hsmLabel: null,
    });
    await setup.runs.startRun(id, { toKeyId: next.id, rowsTotal: 20 });
    await setup.runs.createRanges(id, [
      { loId: 0n, hiId: 10n },
      { loId: 10n, hiId: 20n },
    ]);
    const [firstRange, secondRange] = await setup.runs.listRanges(id);
    await setup.runs.setRangeStatus(id, secondRange?.rangeNo ?? -1, {
      status: 'failed',
      error: '1 row failed authentication',
    });
    await setup.pool.query(
      `insert into "${setup.schema}".rotation_failures (run_id, row_id, code, reason)
       values ($1, 17, 'REKEY_CIPHERTEXT_AUTH_FAILED', 'the ciphertext failed authentication')`,
      [id],
    );

    const response = await setup.app.inject({
      method: 'GET',
      url: `/v1/rotations/${id}`,
    });

    expect(response.statusCode).toBe(200);
    const { rotation } = response.json<{
      rotation: {
        id: number;
        status: string;
        progress: Record<string, number | null>;
        ranges: Array<{ rangeNo: number; status: string }>;
        failedRanges: number[];
        failures: Array<{ rowId: string; code: string; reason: string }>;
      };
    }>();
    expect(rotation).toMatchObject({ id, status: 'running' });
    expect(rotation.progress).toMatchObject({
      rowsTotal: 20,
      rowsDone: 0,
      rowsFailed: 0,
      rowsRemaining: 20,
    });
    expect(rotation.ranges.map((range) => range.rangeNo)).toEqual([
      firstRange?.rangeNo,
      secondRange?.rangeNo,
    ]);
    expect(rotation.failedRanges).toEqual([secondRange?.rangeNo]);
    expect(rotation.failures).toEqual([
      {
        rowId: '17',
        code: 'REKEY_CIPHERTEXT_AUTH_FAILED',
        reason: 'the ciphertext failed authentication',
      },
    ]);
  });

  it('answers 404 for an unknown run and 400 for a malformed id', async () => {
    const unknown = await setup.app.inject({
      method: 'GET',
      url: '/v1/rotations/999999999',
    });
    const malformed = await setup.app.inject({
      method: 'GET',
      url: '/v1/rotations/run-1',
    });

    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<ErrorAnswer>().error.code).toBe(
      'REKEY_ROTATION_NOT_FOUND',
    );
    expect(malformed.statusCode).toBe(400);
  });
});

describe('GET /v1/rotations', () => {
  it("lists a tenant's runs, newest first, within the limit", async () => {
    const { tenantId } = await tenantWithKey();
    await requestRotation(setup.downApp, tenantId);
    const second = await requestRotation(setup.app, tenantId);
    const secondId = second.json<RotationAnswer>().rotation.id;

    const response = await setup.app.inject({
      method: 'GET',
      url: `/v1/rotations?tenant=${tenantId}&limit=1`,
    });

    expect(response.statusCode).toBe(200);
    const { rotations } = response.json<{
      rotations: Array<{ id: number; tenantId: string }>;
    }>();
    expect(rotations.map((run) => run.id)).toEqual([secondId]);
  });

  it('answers 400 for a limit out of range', async () => {
    const response = await setup.app.inject({
      method: 'GET',
      url: '/v1/rotations?limit=1000',
    });

    expect(response.statusCode).toBe(400);
  });
});

describe('probes and dashboard', () => {
  it('answers /healthz whatever the dependencies do', async () => {
    for (const app of [setup.app, setup.downApp]) {
      const response = await app.inject({ method: 'GET', url: '/healthz' });
      expect(response.statusCode).toBe(200);
    }
  });

  it('answers /readyz 200 when Redis and PostgreSQL answer, 503 when Redis does not', async () => {
    const ready = await setup.app.inject({ method: 'GET', url: '/readyz' });
    const notReady = await setup.downApp.inject({
      method: 'GET',
      url: '/readyz',
    });

    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      status: 'ready',
      checks: { redis: 'ready', postgres: 'ready' },
    });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toEqual({
      status: 'not-ready',
      checks: { redis: 'not-ready', postgres: 'ready' },
    });
  });

  it('serves the read-only queue dashboard at /admin/queues', async () => {
    const page = await setup.app.inject({
      method: 'GET',
      url: '/admin/queues',
    });
    const api = await setup.app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues',
    });

    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(api.statusCode).toBe(200);
    const names = (
      api.json<{ queues: Array<{ name: string; readOnlyMode: boolean }> }>()
        .queues ?? []
    ).map((queue) => [queue.name, queue.readOnlyMode]);
    expect(names).toEqual(
      expect.arrayContaining([
        ['rekey-rotation', true],
        ['rekey-reencrypt', true],
      ]),
    );
  });

  it('answers an unknown route with the error body', async () => {
    const response = await setup.app.inject({ method: 'GET', url: '/v2/x' });

    expect(response.statusCode).toBe(404);
    expect(response.json<ErrorAnswer>().error.code).toBe('REKEY_INPUT_INVALID');
  });

  it('logs the unscheduled run, and no secret a request carried', () => {
    const log = setup.logLines.join('');

    expect(log).not.toContain('c2VjcmV0');
    expect(log).toContain('"msg":"rotation not scheduled"');
  });
});
