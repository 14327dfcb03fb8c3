// Throughput of a whole rotation against PostgreSQL's own rewrite of the
// same rows, measured side by side in one run on one machine:
//
//   A. server-side: UPDATE … SET ciphertext = ciphertext || '' in id ranges
//      of 5,000 rows, one connection — no transfer, no crypto;
//   B. Rekey: a DEK rotation of the same tenant run by WORKERS worker
//      processes through the real queues, HSM and database.
//
// Prints rows/s of both, the ratio, the HSM calls of the rotation and the
// peak resident memory of each worker. Build first (`pnpm build`), then:
//   pnpm bench                         # or: node test/bench/rotation-bench.mjs
// Environment: DATABASE_URL (postgres://postgres@127.0.0.1:5432/test),
// REDIS_URL, ROWS (200000), WORKERS (2), BATCH_SIZE (5000), RANGE_SIZE
// (25000), REKEY_PKCS11_MODULE. Uses a fresh schema, queue prefix and
// SoftHSM2 token directory, and removes them at the end.

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const rows = Number(process.env.ROWS ?? 200_000);
const workers = Number(process.env.WORKERS ?? 2);
const schema = `rk_bench_${Date.now().toString(36)}`;
const hsmDir = mkdtempSync(join(tmpdir(), 'rekey-bench-hsm-'));
const pin = `pin-${randomBytes(8).toString('hex')}`;
writeFileSync(
  join(hsmDir, 'softhsm2.conf'),
  `directories.tokendir = ${hsmDir}\nobjectstore.backend = file\nlog.level = ERROR\n`,
);
execFileSync(
  'softhsm2-util',
  [
    '--init-token',
    '--free',
    '--label',
    'rekey-bench',
    '--pin',
    pin,
    '--so-pin',
    `so-${pin}`,
  ],
  {
    env: { ...process.env, SOFTHSM2_CONF: join(hsmDir, 'softhsm2.conf') },
    stdio: 'ignore',
  },
);

const env = {
  PATH: process.env.PATH ?? '',
  SOFTHSM2_CONF: join(hsmDir, 'softhsm2.conf'),
  DATABASE_URL:
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  REKEY_PKCS11_MODULE:
    process.env.REKEY_PKCS11_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so',
  REKEY_DB_SCHEMA: schema,
  REKEY_QUEUE_PREFIX: `{${schema}}`,
  REKEY_HSM_TOKEN_LABEL: 'rekey-bench',
  REKEY_HSM_PIN: pin,
  REKEY_BATCH_SIZE: process.env.BATCH_SIZE ?? '5000',
  REKEY_RANGE_SIZE: process.env.RANGE_SIZE ?? '25000',
  LOG_LEVEL: 'info',
};
Object.assign(process.env, { SOFTHSM2_CONF: env.SOFTHSM2_CONF });

const { ensureMasterKey } = await import('@rekey/pkcs11');
const { migrateToLatest } = await import('@rekey/postgres');
const { RekeyQueues } = await import('@rekey/queue');
const { requestRotation, seedTenant } = await import('@rekey/rotation');
const { CleanupList, loadRuntimeConfig, openKeyServices } =
  await import('@rekey/runtime');

const config = loadRuntimeConfig(env);
const cleanup = new CleanupList();
const children = [];
const tenantId = 'bench-tenant';
const qualified = `"${schema}".context_records`;

try {
  const services = await openKeyServices(config, {
    cleanup,
    applicationName: 'rekey-bench',
    poolMax: 2,
  });
  await migrateToLatest(services.pool, { schema });
  await ensureMasterKey({
    modulePath: config.hsm.modulePath,
    tokenLabel: 'rekey-bench',
    pin,
    label: config.hsm.masterLabel,
  });
  await services.hierarchy.registerMasterKey(config.hsm.masterLabel);
  await services.hierarchy.ensureKek();

  let t = performance.now();
  await seedTenant({
    hierarchy: services.hierarchy,
    records: services.records,
    table: config.table,
    tenantId,
    rows,
    batchSize: 5_000,
  });
  const seedSeconds = (performance.now() - t) / 1000;
  const {
    rows: [size],
  } = await services.pool.query(
    `select avg(octet_length(ciphertext))::int as bytes from ${qualified}`,
  );
  await services.pool.query(`vacuum analyze ${qualified}`);

  // A. PostgreSQL rewrites the same rows itself.
  const { rows: bounds } = await services.pool.query(
    `select min(id)::text as lo, max(id)::text as hi from ${qualified} where tenant_id = $1`,
    [tenantId],
  );
  t = performance.now();
  for (
    let lo = BigInt(bounds[0].lo) - 1n;
    lo < BigInt(bounds[0].hi);
    lo += 5_000n
  ) {
    await services.pool.query(
      `update ${qualified} set ciphertext = ciphertext || ''::bytea where tenant_id = $1 and id > $2 and id <= $3`,
      [tenantId, lo.toString(), (lo + 5_000n).toString()],
    );
  }
  const serverSeconds = (performance.now() - t) / 1000;
  await services.pool.query(`vacuum analyze ${qualified}`);

  // B. Rekey rotates the tenant with worker processes.
  const workerScript = fileURLToPath(
    new URL('../../apps/worker/dist/main.js', import.meta.url),
  );
  for (let i = 0; i < workers; i++) {
    const child = spawn(process.execPath, [workerScript], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.resume();
    children.push(child);
  }
  await sleep(1_500);
  const queues = RekeyQueues.open({
    redisUrl: config.redis.url,
    prefix: config.redis.queuePrefix,
  });
  cleanup.add('queues', async () => {
    await queues.rotation.obliterate({ force: true });
    await queues.reencrypt.obliterate({ force: true });
    await queues.close();
  });
  const run0 = await requestRotation(
    {
      keys: services.keys,
      runs: services.runs,
      enqueue: (id) => queues.enqueueRotation(id),
    },
    { tenantId, requestedBy: 'bench' },
  );
  const peaks = new Map();
  let run;
  for (;;) {
    for (const child of children) {
      try {
        const hwm = /VmHWM:\s+(\d+)/.exec(
          readFileSync(`/proc/${child.pid}/status`, 'utf8'),
        );
        if (hwm) peaks.set(child.pid, Number(hwm[1]));
      } catch {
        // /proc exists on Linux only; peak memory is then not reported.
      }
    }
    run = await services.runs.getRun(run0.id);
    if (['completed', 'completed_with_failures', 'failed'].includes(run.status))
      break;
    await sleep(200);
  }
  const rekeySeconds = (run.finishedAt - run.startedAt) / 1000;

  const serverRate = Math.round(rows / serverSeconds);
  const rekeyRate = Math.round(rows / rekeySeconds);
  console.log(
    `rows=${rows} avg_envelope_bytes=${size.bytes} workers=${workers} batch=${env.REKEY_BATCH_SIZE} range=${env.REKEY_RANGE_SIZE}`,
  );
  console.log(`seed:        ${Math.round(rows / seedSeconds)} rows/s`);
  console.log(
    `postgres:    ${serverRate} rows/s  (server-side UPDATE, no transfer, no crypto)`,
  );
  console.log(
    `rekey:       ${rekeyRate} rows/s  (status=${run.status}, ${workers} worker processes)`,
  );
  console.log(
    `ratio:       ${(rekeyRate / serverRate).toFixed(2)} of the server-side rewrite`,
  );
  console.log(`hsm calls:   ${run.hsmCalls} for the rotation`);
  console.log(
    `worker peak: ${[...peaks.values()].map((kb) => `${Math.round(kb / 1024)} MiB`).join(', ') || 'not measured'}`,
  );
  await services.pool.query(`drop schema "${schema}" cascade`);
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(
    children.map(
      (c) =>
        new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r())),
    ),
  );
  await cleanup.run();
  rmSync(hsmDir, { recursive: true, force: true });
}
