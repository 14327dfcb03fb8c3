import { KeyHierarchy } from '@rekey/core';
import { Pkcs11Hsm } from '@rekey/pkcs11';
import {
  createDatabase,
  createPool,
  PgKeyStore,
  RecordBatchIo,
  RotationRunRepository,
} from '@rekey/postgres';
import { RotationEngine, type RotationEventSink } from '@rekey/rotation';

import { CleanupList } from './cleanup-list.js';
import { requirePin, type RuntimeConfig } from './runtime-config.js';

/** The PostgreSQL side of a Rekey process. */
export interface DatabaseServices {
  readonly pool: ReturnType<typeof createPool>;
  readonly keys: PgKeyStore;
  readonly runs: RotationRunRepository;
  readonly records: RecordBatchIo;
}

/** Everything a process needs to rotate keys and re-encrypt rows. */
export interface KeyServices extends DatabaseServices {
  readonly hsm: Pkcs11Hsm;
  readonly hierarchy: KeyHierarchy;
  readonly engine: RotationEngine;
}

/** Options of {@link openDatabaseServices} and {@link openKeyServices}. */
export interface OpenServicesOptions {
  /** Gets a close step for each service opened, in shutdown order. */
  readonly cleanup: CleanupList;
  /** Pool size. @defaultValue 10 */
  readonly poolMax?: number;
  /** Shown in `pg_stat_activity`. */
  readonly applicationName: string;
  readonly onEvent?: RotationEventSink;
}

/** Opens the pool and the repositories over Rekey's schema. */
export function openDatabaseServices(
  config: RuntimeConfig,
  options: OpenServicesOptions,
): DatabaseServices {
  const pool = createPool({
    connectionString: config.database.url,
    max: options.poolMax ?? 10,
    applicationName: options.applicationName,
  });
  options.cleanup.add('postgres pool', () => pool.end());
  const db = createDatabase(pool, { schema: config.database.schema });

  return {
    pool,
    keys: new PgKeyStore(db),
    runs: new RotationRunRepository(db),
    records: new RecordBatchIo(pool, {
      table: config.table,
      rekeySchema: config.database.schema,
    }),
  };
}

/**
 * Opens the database, the HSM session and the key hierarchy, and the
 * rotation engine over them. The HSM is closed after the hierarchy has
 * zeroed the DEKs it held, and before the pool.
 */
export async function openKeyServices(
  config: RuntimeConfig,
  options: OpenServicesOptions,
): Promise<KeyServices> {
  const hsm = await Pkcs11Hsm.open({
    modulePath: config.hsm.modulePath,
    tokenLabel: config.hsm.tokenLabel,
    pin: requirePin(config),
    wrapMechanism: config.hsm.wrapMechanism,
  });
  const databaseCleanup = new CleanupList();
  const database = openDatabaseServices(config, {
    ...options,
    cleanup: databaseCleanup,
  });
  const hierarchy = new KeyHierarchy({
    hsm,
    store: database.keys,
    kekScope: config.hsm.kekScope,
  });
  // Shutdown order: zero the DEKs held in memory, close the HSM, then the
  // pool.
  options.cleanup
    .add('data keys', () => hierarchy.close())
    .add('hsm', () => hsm.close())
    .add('postgres', async () => {
      const failures = await databaseCleanup.run();
      if (failures.length > 0) throw failures[0]?.error;
    });

  const engine = new RotationEngine({
    hierarchy,
    keys: database.keys,
    runs: database.runs,
    records: database.records,
    table: config.table,
    rangeSize: config.rotation.rangeSize,
    batchSize: config.rotation.batchSize,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });

  return { ...database, hsm, hierarchy, engine };
}
