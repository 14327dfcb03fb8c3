/**
 * The part of node-postgres that Rekey calls. `pg.Pool` satisfies these
 * interfaces structurally; depending on them keeps the driver's own types
 * out of Rekey's API and lets tests substitute a pool.
 */

/** Parses one column value of a result, chosen by type OID and format. */
export interface PgTypeParsers {
  getTypeParser(
    oid: number,
    format?: 'text' | 'binary',
  ): (value: never) => unknown;
}

/** One statement with its parameters, as node-postgres accepts it. */
export interface PgQueryConfigLike {
  readonly text: string;
  readonly values?: readonly unknown[];
  /** `array` returns each row as an array of column values. */
  readonly rowMode?: 'array';
  /** Per-statement type parsers, overriding the driver's defaults. */
  readonly types?: PgTypeParsers;
}

/** What a statement returns. */
export interface PgQueryResultLike<R = unknown> {
  readonly rows: R[];
  readonly rowCount: number | null;
}

/** A connection checked out of a pool. */
export interface PgClientLike {
  query<R = unknown>(config: PgQueryConfigLike): Promise<PgQueryResultLike<R>>;
  query<R = unknown>(
    text: string,
    values?: readonly unknown[],
  ): Promise<PgQueryResultLike<R>>;
  /**
   * Gives the connection back. A truthy argument closes it instead, which a
   * caller must do when the connection's state is unknown (a failed
   * rollback), so that no open transaction returns to the pool.
   */
  release(destroy?: Error | boolean): void;
}

/** A pool of PostgreSQL connections. */
export interface PgPoolLike {
  connect(): Promise<PgClientLike>;
  query<R = unknown>(config: PgQueryConfigLike): Promise<PgQueryResultLike<R>>;
  query<R = unknown>(
    text: string,
    values?: readonly unknown[],
  ): Promise<PgQueryResultLike<R>>;
  end(): Promise<void>;
}
