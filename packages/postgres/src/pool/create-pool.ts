import { RekeyError } from '@rekey/core';
import pg from 'pg';

import { classifyPgError } from '../errors/pg-error-classifier.js';

/** Options of {@link createPool}. */
export interface CreatePoolOptions {
  /** `postgres://user:password@host:port/database`; never logged. */
  readonly connectionString: string;
  /**
   * Most connections open at once.
   * @defaultValue 10
   */
  readonly max?: number;
  /**
   * Shown in `pg_stat_activity.application_name`.
   * @defaultValue `'rekey'`
   */
  readonly applicationName?: string;
  /**
   * How long to wait for a connection, new or pooled, before failing with
   * `REKEY_DB_UNAVAILABLE`.
   * @defaultValue 10_000
   */
  readonly connectionTimeoutMillis?: number;
  /**
   * The server cancels any statement running longer (SQLSTATE 57014,
   * `REKEY_DB_TIMEOUT`); 0 disables. A 20,000-row batch takes about a
   * second, so the default leaves a wide margin for lock waits.
   * @defaultValue 60_000
   */
  readonly statementTimeoutMillis?: number;
  /**
   * The server ends a session left idle inside a transaction this long,
   * which rolls the transaction back and frees its row locks; 0 disables.
   * @defaultValue 60_000
   */
  readonly idleInTransactionTimeoutMillis?: number;
  /**
   * An idle pooled connection is closed after this long.
   * @defaultValue 30_000
   */
  readonly idleTimeoutMillis?: number;
  /**
   * Receives errors of idle pooled connections, such as a server restart;
   * the pool has already discarded the connection.
   * @defaultValue ignores them
   */
  readonly onIdleClientError?: (error: RekeyError) => void;
}

type ConnectCallback = (
  error: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: unknown) => void,
) => void;

/**
 * A `pg.Pool` whose connection failures are RekeyErrors naming the server,
 * and whose connection string, which may hold a password, does not show in
 * a dump of its options.
 */
class RekeyPool extends pg.Pool {
  readonly #server: string;

  constructor(config: pg.PoolConfig, server: string) {
    super(config);
    this.#server = server;
    hide(this.options, 'connectionString');
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    if (callback === undefined) {
      return super.connect().catch((error: unknown) => {
        throw this.#connectError(error);
      });
    }

    super.connect((error, client, done) => {
      callback(
        error === undefined ? undefined : this.#connectError(error),
        client,
        done,
      );
    });
  }

  #connectError(error: unknown): RekeyError {
    const classified = classifyPgError(error);
    // Refusals that another attempt cannot fix (wrong password, missing
    // database) stay permanent; everything else is the server being out
    // of reach.
    const permanent =
      classified.code === 'REKEY_DB_FAILED' &&
      classified.details.sqlstate !== undefined;

    return new RekeyError(
      permanent ? 'REKEY_DB_FAILED' : 'REKEY_DB_UNAVAILABLE',
      `cannot connect to PostgreSQL at ${this.#server}: ${classified.message}`,
      {
        cause: classified,
        details: { ...classified.details, server: this.#server },
      },
    );
  }
}

/**
 * Creates the connection pool every Rekey adapter shares. The pool sets
 * the session's statement and idle-in-transaction timeouts, survives the
 * loss of a connection whether idle or checked out, and its
 * `connect()` (and so its `query()`) fails with a RekeyError: connection
 * refused, timed out or dropped → retryable `REKEY_DB_UNAVAILABLE`; a
 * refusal by the server such as a wrong password → permanent
 * `REKEY_DB_FAILED`. Both messages name `host:port`, never the password.
 *
 * @param options - where to connect, and limits
 * @returns a `pg.Pool`; its owner ends it
 * @throws RekeyError `REKEY_CONFIG_INVALID` for an empty connection string
 *   or a bad limit
 */
export function createPool(options: CreatePoolOptions): pg.Pool {
  if (!options.connectionString) {
    throw new RekeyError(
      'REKEY_CONFIG_INVALID',
      'a PostgreSQL connection string is required',
    );
  }

  const onIdleClientError = options.onIdleClientError ?? (() => undefined);
  const config: pg.PoolConfig = {
    connectionString: options.connectionString,
    max: positive('max', options.max ?? 10),
    application_name: options.applicationName ?? 'rekey',
    connectionTimeoutMillis: positive(
      'connectionTimeoutMillis',
      options.connectionTimeoutMillis ?? 10_000,
    ),
    idleTimeoutMillis: positive(
      'idleTimeoutMillis',
      options.idleTimeoutMillis ?? 30_000,
    ),
    statement_timeout: nonNegative(
      'statementTimeoutMillis',
      options.statementTimeoutMillis ?? 60_000,
    ),
    idle_in_transaction_session_timeout: nonNegative(
      'idleInTransactionTimeoutMillis',
      options.idleInTransactionTimeoutMillis ?? 60_000,
    ),
  };
  const pool = new RekeyPool(config, describeServer(options.connectionString));

  // Without a listener, an idle connection's error (a server restart)
  // would be an unhandled 'error' event and end the process. The pool has
  // already dropped that connection; the next checkout opens a new one.
  pool.on('error', (error) => onIdleClientError(classifyPgError(error)));
  // A checked-out connection that dies (server restart, a terminated
  // backend) emits 'error' too, and with no listener that would end the
  // process. The same failure already rejects the query in flight, which
  // is where it is handled; the listener only keeps the event from being
  // unhandled.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });

  return pool;
}

/**
 * `host:port` of a connection string, for messages; never its user
 * information.
 *
 * @param connectionString - a `postgres://` URL
 * @internal
 */
export function describeServer(connectionString: string): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return 'the configured server';
  }

  const host =
    url.searchParams.get('host') ??
    (url.hostname === '' ? 'localhost' : url.hostname);
  const port = url.searchParams.get('port') ?? (url.port || '5432');

  return `${host}:${port}`;
}

function hide(target: object, key: string): void {
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  if (descriptor === undefined) return;

  Object.defineProperty(target, key, { ...descriptor, enumerable: false });
}

function positive(name: string, value: number): number {
  if (Number.isSafeInteger(value) && value > 0) return value;

  throw new RekeyError(
    'REKEY_CONFIG_INVALID',
    `${name} must be a positive integer, got ${value}`,
  );
}

function nonNegative(name: string, value: number): number {
  if (Number.isSafeInteger(value) && value >= 0) return value;

  throw new RekeyError(
    'REKEY_CONFIG_INVALID',
    `${name} must be zero or a positive integer, got ${value}`,
  );
}
